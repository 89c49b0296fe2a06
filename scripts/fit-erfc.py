"""The erfc fit of the exact-GELU kernels (Sources/CKernels/ExpConstants.h).

erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), as Numerical Recipes'
erfcc writes it, but with P a degree-13 polynomial fitted here (Chebyshev
least squares on z in [0, 11], against mpmath's erfc at 40 digits) instead of
the book's degree 9: relative error about 1.5e-10 instead of 1.2e-7, so the
kernels, which compute x * Phi(x) in double, round within 1 ulp.
Past z = 11 erfc(z) * |x| is far below float's smallest denormal.

    scripts/.venv/bin/python scripts/fit-erfc.py   # needs numpy and mpmath
"""
import mpmath
import numpy as np

mpmath.mp.dps = 40
Z_MAX = 11.0
DEGREE = 13
t_low = 1 / (1 + Z_MAX / 2)
k = np.arange(3000)
ts = (t_low + 1) / 2 + (1 - t_low) / 2 * np.cos(np.pi * (k + 0.5) / len(k))


def target(t):
    z = 2 * (1 / mpmath.mpf(t) - 1)
    return float(mpmath.log(mpmath.erfc(z) / mpmath.mpf(t)) + z * z)


fit = np.polynomial.chebyshev.Chebyshev.fit(ts, [target(t) for t in ts], DEGREE, domain=[t_low, 1])
coefficients = fit.convert(kind=np.polynomial.Polynomial, domain=[-1, 1], window=[-1, 1]).coef

worst = 0.0
for z in np.linspace(0, Z_MAX, 4001):
    t = 1 / (1 + z / 2)
    p = 0.0
    for a in coefficients[::-1]:
        p = p * t + a
    ref = float(mpmath.erfc(z))
    worst = max(worst, abs(t * np.exp(p - z * z) - ref) / ref)
print(f"// relative error of erfc below {worst:.2g} on [0, {Z_MAX:g}]")
for i, a in enumerate(coefficients):
    print(f"#define TDB_DERFC_P{i} {float(a)!r}")
