// The constants of tdb's exp, shared by the portable and AVX2 kernels so that
// both compute the same function.
//
// e^x = 2^n · e^r with n = round(x / ln 2) and r = x - n·ln 2 in
// [-ln2/2, ln2/2]. ln 2 is split Cody–Waite style: LN2_HI has 16 significant
// bits, so n·LN2_HI is exact for |n| ≤ 2^8 and x - n·LN2_HI loses nothing.
// e^r is its Taylor series to r^7: the first omitted term, r^8/8!, is below
// 5.3e-9 on the interval, a twentieth of float's half-ulp at 1.
// 2^n is applied in two halves so that results in the denormal range
// and just below overflow (n = 128) come out right.
#ifndef TDB_EXP_CONSTANTS_H
#define TDB_EXP_CONSTANTS_H

#define TDB_LOG2E 1.44269504088896341f
#define TDB_LN2_HI 0.693145751953125f
#define TDB_LN2_LO 1.42860682030e-06f
// Above TDB_EXP_HI e^x is +inf. Below TDB_EXP_LO even m·e^x rounds to 0 for
// the largest m a kernel multiplies in (x·σ(x) at x = -115, not -104 where
// e^x alone underflows). Clamping there keeps n in [-166, 128], both halves
// of 2^n normal.
#define TDB_EXP_HI 89.0f
#define TDB_EXP_LO -115.0f
// 1/k! for k = 2..7
#define TDB_EXP_C2 0.5f
#define TDB_EXP_C3 0.166666666666666667f
#define TDB_EXP_C4 0.0416666666666666667f
#define TDB_EXP_C5 0.00833333333333333333f
#define TDB_EXP_C6 0.00138888888888888889f
#define TDB_EXP_C7 0.000198412698412698413f
// √(2/π) and GELU's cubic coefficient.
#define TDB_GELU_S 0.797884560802865355f
#define TDB_GELU_C 0.044715f

#endif
