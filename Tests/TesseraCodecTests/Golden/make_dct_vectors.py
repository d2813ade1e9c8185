#!/usr/bin/env python3
"""Test vectors for the codec's chunked DCT (Documentation/WireFormat.md §6), from the spec alone.

    python3 make_dct_vectors.py     # writes dct/matrices.json and dct/transforms.json beside it

Needs numpy and mpmath (Debian: python3-numpy python3-mpmath). Nothing here calls Tessera.

- matrices.json: for each n, the n×n orthonormal DCT-II matrix, row-major, each entry the float32
  nearest the exact real alpha_k * cos(pi * (2i + 1) * k / (2n)) (computed with mpmath at 80
  digits, then rounded to 24 significant bits, ties to even), as little-endian float32 hex.
- transforms.json: chunked forward and inverse transforms of seeded inputs. The summation order
  is the spec: first F[k][j] = sum_i A[k][i] * X[i][j], then Y[k][l] = sum_j F[k][j] * B[j][l]
  per chunk, each sum starting at +0 and adding float32-rounded products one at a time in
  ascending order of the inner index (numpy's float32 multiply and add are single IEEE
  operations; numpy never fuses them). Forward: A = D_r, B = D_c^T; inverse: A = D_r^T, B = D_c.
"""
import json
import os
import struct

import mpmath
import numpy as np

mpmath.mp.dps = 80
HERE = os.path.dirname(os.path.abspath(__file__))


def nearest_float32(x):
    """The float32 nearest the mpf x (ties to even); exact zeros are +0."""
    if x == 0:
        return np.float32(0.0)
    with mpmath.workprec(24):
        rounded = +x  # mpmath rounds to 24 significant bits, to nearest even
    value = float(rounded)  # exact: 24 bits fit in a double
    assert abs(value) > 2.0 ** -100, "far from float32's subnormal range"
    return np.float32(value)


def dct_matrix(n):
    m = np.zeros((n, n), dtype=np.float32)
    for k in range(n):
        alpha = mpmath.sqrt(mpmath.mpf(1 if k == 0 else 2) / n)
        for i in range(n):
            q = ((2 * i + 1) * k) % (4 * n)
            # cos is exactly zero at odd multiples of pi/2 (q = n or 3n).
            c = mpmath.mpf(0) if q in (n, 3 * n) else mpmath.cos(mpmath.pi * q / (2 * n))
            m[k, i] = nearest_float32(alpha * c)
    return m


def hex32(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes().hex()


def transform(x, r, c, inverse):
    dr, dc = dct_matrix(r), dct_matrix(c)
    a = dr.T.copy() if inverse else dr
    b = dc if inverse else dc.T.copy()
    y = np.empty_like(x)
    rows, cols = x.shape
    for b0 in range(0, rows, r):
        for c0 in range(0, cols, c):
            chunk = x[b0:b0 + r, c0:c0 + c]
            first = np.zeros((r, c), dtype=np.float32)
            for i in range(r):
                first = first + (a[:, i:i + 1] * chunk[i:i + 1, :])
            out = np.zeros((r, c), dtype=np.float32)
            for j in range(c):
                out = out + (first[:, j:j + 1] * b[j:j + 1, :])
            y[b0:b0 + r, c0:c0 + c] = out
    return y


def main():
    os.makedirs(os.path.join(HERE, "dct"), exist_ok=True)
    sizes = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64]
    matrices = {"sizes": sizes, "matrices": {str(n): hex32(dct_matrix(n)) for n in sizes}}
    with open(os.path.join(HERE, "dct", "matrices.json"), "w") as f:
        json.dump(matrices, f, indent=1, sort_keys=True)
        f.write("\n")

    rng = np.random.default_rng(20261203)
    cases = []
    # (name, chunk rows, chunk columns, matrix rows, matrix columns, inverse, fraction of zeros)
    for name, r, c, rows, cols, inverse, zeros in [
        ("forward-6x8", 6, 8, 12, 16, False, 0.0),
        ("inverse-6x8", 6, 8, 12, 16, True, 0.0),
        ("forward-1x5", 1, 5, 1, 10, False, 0.0),
        ("inverse-5x12-sparse", 5, 12, 10, 36, True, 0.7),
        ("forward-3x7-signed-zeros", 3, 7, 9, 14, False, 0.4),
        ("forward-64x64", 64, 64, 64, 64, False, 0.0),
        ("inverse-64x64-sparse", 64, 64, 64, 64, True, 0.98),
        ("inverse-16x40", 16, 40, 32, 80, True, 0.0),
    ]:
        x = (rng.standard_normal((rows, cols)) * 0.1).astype(np.float32)
        mask = rng.random((rows, cols)) < zeros
        # Zeros of both signs, to pin down the sign rules.
        x[mask] = np.where(rng.random(mask.sum()) < 0.5, np.float32(0.0), np.float32(-0.0))
        y = transform(x, r, c, inverse)
        cases.append({"name": name, "chunkRows": r, "chunkColumns": c, "rows": rows, "columns": cols,
                      "inverse": inverse, "input": hex32(x), "output": hex32(y)})
    with open(os.path.join(HERE, "dct", "transforms.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
