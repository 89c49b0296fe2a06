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
// Above TDB_EXP_HI e^x is +inf; below TDB_EXP_LO it is 0 (it underflows
// from about -104 on). Clamping there keeps n in [-166, 128], both halves
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
// The double exp inside x·σ(y) (the tanh-GELU, SiLU and their gates): those
// kernels compute x·σ(y) (times `up` for a gate) in double and round once,
// so their float results are within 1 ulp of the formula's exact value.
// e^t for t in [TDB_DEXP_LO, 0] only: n = round(t / ln 2) in [-1021, 0] (2^n
// a normal double), r = t - n·ln 2 in [-ln2/2, ln2/2] with ln 2 split as
// fdlibm splits it (n·LN2_HI exact), and e^r its Taylor series to r^9 (the
// first omitted term, r^10/10!, is below 7e-12). Below TDB_DEXP_LO e^t is
// taken as 0: x·e^t then rounds to 0 in float for every float x.
#define TDB_DEXP_LO -708.0
#define TDB_DLOG2E 1.44269504088896338700
#define TDB_DLN2_HI 6.93147180369123816490e-01
#define TDB_DLN2_LO 1.90821492927058770002e-10
// 1/k! for k = 2..9
#define TDB_DEXP_C2 0.5
#define TDB_DEXP_C3 1.66666666666666666667e-01
#define TDB_DEXP_C4 4.16666666666666666667e-02
#define TDB_DEXP_C5 8.33333333333333333333e-03
#define TDB_DEXP_C6 1.38888888888888888889e-03
#define TDB_DEXP_C7 1.98412698412698412698e-04
#define TDB_DEXP_C8 2.48015873015873015873e-05
#define TDB_DEXP_C9 2.75573192239858906526e-06
// 1.5·2^52 + 1023: added to an integer-valued double n, it leaves n + 1023
// in the low bits of the sum's representation (the exponent field of 2^n).
#define TDB_DEXP_SHIFTER (6755399441055744.0 + 1023.0)

// Below this |y|, tanh(y) is taken as y·(1 - y²/3): (1 - e^-2|y|)/(1 + e^-2|y|)
// would lose digits to the cancellation, and y⁵'s term is below 1e-21 of y.
#define TDB_DTANH_SMALL 1e-5

// √(2/π) and GELU's cubic coefficient.
#define TDB_GELU_S 0.797884560802865355f
#define TDB_GELU_C 0.044715f
// The exact GELU, x·Φ(x) in double: Φ(x) = 1 - erfc(z)/2 for x ≥ 0 and
// erfc(z)/2 below, z = |x|/√2, with erfc(z) = t·e^(-z² + P(t)),
// t = 1/(1 + z/2), the form of Numerical Recipes' erfcc (§6.2) but with P of
// degree 13 fitted by scripts/fit-erfc.py: relative error below 1.5e-10 for
// z in [0, TDB_DERFC_ZMAX] (the book's degree 9 gives 1.2e-7). Past it
// erfc(z)·|x| is far below float's smallest denormal and is taken as 0.
#define TDB_DERFC_ZMAX 11.0
#define TDB_DSQRT1_2 0.70710678118654752440
// 1/√(2π), the normal density's factor.
#define TDB_DINV_SQRT_2PI 0.39894228040143267794
#define TDB_DERFC_P0 -1.2655041716583209
#define TDB_DERFC_P1 0.9997194249595656
#define TDB_DERFC_P2 0.3794064616836529
#define TDB_DERFC_P3 0.042588080781071735
#define TDB_DERFC_P4 0.16117657255865953
#define TDB_DERFC_P5 -1.1789471444368105
#define TDB_DERFC_P6 2.9740062756108676
#define TDB_DERFC_P7 -6.406152391920443
#define TDB_DERFC_P8 9.52990573723853
#define TDB_DERFC_P9 -8.959185265141922
#define TDB_DERFC_P10 5.215710153193303
#define TDB_DERFC_P11 -1.7850688114661684
#define TDB_DERFC_P12 0.3088888266933686
#define TDB_DERFC_P13 -0.016543747986915734

#endif
