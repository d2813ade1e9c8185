#!/usr/bin/env python3
"""Golden vectors for GauntletScorer.welchT: Welch's t statistic of mean(a) - mean(b) with sample
variances (ddof = 1), computed with numpy in float64. Prints Swift literals for WelchTests.swift.
Run: /tmp/tessera-ref/bin/python Tests/TesseraScoringTests/make_welch_vectors.py"""
import numpy as np

rng = np.random.default_rng(7)
cases = [
    (rng.normal(0.004, 0.001, 8), rng.normal(0.001, 0.001, 8)),
    (rng.normal(0.001, 0.002, 8), rng.normal(0.001, 0.0005, 8)),
    (rng.normal(-0.01, 0.03, 5), rng.normal(0.02, 0.01, 8)),
    (np.array([0.3, 0.1]), np.array([0.2, 0.25, 0.15])),
]
for a, b in cases:
    t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    fa = ", ".join(repr(float(x)) for x in a)
    fb = ", ".join(repr(float(x)) for x in b)
    print(f"        ([{fa}],\n         [{fb}],\n         {float(t)!r}),")
