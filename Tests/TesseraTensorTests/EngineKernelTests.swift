import CTesseraKernels
import Foundation
import Testing
import TesseraCore
@testable import TesseraTensor

/// The training engine's dispatched kernels (TesseraEngineKernels.h): every instruction-set
/// level gives the portable path's bits exactly, and the portable path agrees with a
/// double-precision reference within the stated tolerance. Levels the CPU lacks are capped to the
/// best it has. Lengths cover empty rows, tails (not a multiple of 16) and unaligned starts.
@Suite("Engine kernels: every level, the portable bits")
struct EngineKernelTests {
    static let levels = VectorKernels.Level.allCases.filter { $0.rawValue <= VectorKernels.supportedLevel.rawValue }
    static let widths = [1, 7, 16, 17, 33, 100, 257]

    static func normals(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = Xoshiro256StarStar(seed: seed)
        return generator.normalFloats(count: count, standardDeviation: scale)
    }

    /// Runs `body` at every level on this thread and checks each result equals the portable one bit for bit
    /// (NaNs compared as NaN); returns the portable result.
    @discardableResult
    static func sameAtEveryLevel(_ label: String, _ body: () -> [Float]) -> [Float] {
        let portable = VectorKernels.withThreadLevel(.portable) { _ in body() }
        for level in levels where level != .portable {
            let result = VectorKernels.withThreadLevel(level) { _ in body() }
            let differing = zip(portable, result).filter { !($0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)) }.count
            #expect(result.count == portable.count && differing == 0, "\(label) at \(level): \(differing) of \(result.count) differ")
        }
        return portable
    }

    /// |a − b| ≤ relative · max(|b|, floor), element by element.
    static func close(_ a: [Float], _ b: [Double], relative: Double, floor: Double = 1e-3, _ label: String) {
        #expect(a.count == b.count, "\(label): count")
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(Double(x) - y) / max(abs(y), floor)) }
        #expect(worst <= relative, "\(label): worst relative error \(worst)")
    }

    @Test("softmax and log-softmax, forward and backward (within 2e-6 of double precision)")
    func softmax() {
        for cols in Self.widths {
            let rows = 3
            let x = Self.normals(rows * cols + 1, seed: UInt64(cols), scale: 4)
            let dy = Self.normals(rows * cols, seed: UInt64(cols) + 100)
            for logarithm in [0, 1] {
                let y = Self.sameAtEveryLevel("softmax cols \(cols) log \(logarithm)") {
                    var y = [Float](repeating: 0, count: rows * cols)
                    // Unaligned input: start one float in.
                    x.withUnsafeBufferPointer { tessera_engine_softmax($0.baseAddress! + 1, &y, rows, cols, Int32(logarithm)) }
                    return y
                }
                var reference = [Double]()
                for r in 0..<rows {
                    let row = (0..<cols).map { Double(x[1 + r * cols + $0]) }
                    let m = row.max()!
                    let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                    reference += row.map { logarithm == 1 ? $0 - m - Foundation.log(s) : Foundation.exp($0 - m) / s }
                }
                Self.close(y, reference, relative: 2e-6, floor: logarithm == 1 ? 1 : 1e-3, "softmax cols \(cols) log \(logarithm)")
                let dx = Self.sameAtEveryLevel("softmax backward cols \(cols) log \(logarithm)") {
                    var dx = [Float](repeating: 0, count: rows * cols)
                    tessera_engine_softmax_backward(y, dy, &dx, rows, cols, Int32(logarithm))
                    return dx
                }
                var expected = [Double]()
                for r in 0..<rows {
                    let yr = (0..<cols).map { Double(y[r * cols + $0]) }, dr = (0..<cols).map { Double(dy[r * cols + $0]) }
                    if logarithm == 1 {
                        let s = dr.reduce(0, +)
                        expected += zip(yr, dr).map { $1 - Foundation.exp($0) * s }
                    } else {
                        let d = zip(yr, dr).reduce(0) { $0 + $1.0 * $1.1 }
                        expected += zip(yr, dr).map { $0 * ($1 - d) }
                    }
                }
                Self.close(dx, expected, relative: 1e-5, floor: 1e-2, "softmax backward cols \(cols) log \(logarithm)")
            }
        }
    }

    @Test("RMSNorm forward, input and weight gradients (within 1e-5)")
    func rmsNorm() {
        for cols in Self.widths {
            let rows = 5
            let x = Self.normals(rows * cols, seed: 7 + UInt64(cols)), w = Self.normals(cols, seed: 8), dy = Self.normals(rows * cols, seed: 9)
            var rstd = [Float](repeating: 0, count: rows)
            let y = Self.sameAtEveryLevel("rmsnorm \(cols)") {
                var y = [Float](repeating: 0, count: rows * cols)
                tessera_engine_rmsnorm(x, w, &y, &rstd, rows, cols, 1e-5)
                return y + rstd
            }
            var expected = [Double](), expectedRstd = [Double]()
            for r in 0..<rows {
                let row = (0..<cols).map { Double(x[r * cols + $0]) }
                let s = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(cols) + 1e-5).squareRoot()
                expectedRstd.append(s)
                expected += row.enumerated().map { $1 * s * Double(w[$0]) }
            }
            Self.close(y, expected + expectedRstd, relative: 1e-5, floor: 1e-2, "rmsnorm \(cols)")
            let dx = Self.sameAtEveryLevel("rmsnorm backward \(cols)") {
                var dx = [Float](repeating: 0, count: rows * cols)
                tessera_engine_rmsnorm_backward(x, w, rstd, dy, &dx, rows, cols)
                return dx
            }
            var expectedDx = [Double]()
            for r in 0..<rows {
                let s = Double(rstd[r])
                let dot = (0..<cols).reduce(0.0) { $0 + Double(dy[r * cols + $1]) * Double(w[$1]) * Double(x[r * cols + $1]) }
                let c = dot * s * s / Double(cols)
                expectedDx += (0..<cols).map { s * (Double(dy[r * cols + $0]) * Double(w[$0]) - Double(x[r * cols + $0]) * c) }
            }
            Self.close(dx, expectedDx, relative: 1e-4, floor: 1e-1, "rmsnorm backward \(cols)")
            let dw = Self.sameAtEveryLevel("rmsnorm weight gradient \(cols)") {
                var dw = [Float](repeating: .nan, count: cols)
                // Two column ranges, as two threads would split them.
                tessera_engine_rmsnorm_weight_grad(x, rstd, dy, &dw, rows, cols, 0, cols / 2)
                tessera_engine_rmsnorm_weight_grad(x, rstd, dy, &dw, rows, cols, cols / 2, cols)
                return dw
            }
            let expectedDw = (0..<cols).map { i in (0..<rows).reduce(0.0) { $0 + Double(dy[$1 * cols + i]) * Double(x[$1 * cols + i]) * Double(rstd[$1]) } }
            Self.close(dw, expectedDw, relative: 1e-5, floor: 1e-1, "rmsnorm weight gradient \(cols)")
        }
    }

    @Test("cross-entropy forward and backward (within 2e-6)")
    func crossEntropy() {
        for classes in Self.widths {
            let rows = 4
            let logits = Self.normals(rows * classes, seed: 11 + UInt64(classes), scale: 3)
            let targets = (0..<rows).map { Int32(($0 * 7 + 3) % classes) }
            var lse = [Float](repeating: 0, count: rows)
            let out = Self.sameAtEveryLevel("cross-entropy \(classes)") {
                var losses = [Float](repeating: 0, count: rows)
                tessera_engine_cross_entropy(logits, targets, rows, classes, &lse, &losses)
                return lse + losses
            }
            var expected = [Double](), expectedLoss = [Double]()
            for r in 0..<rows {
                let row = (0..<classes).map { Double(logits[r * classes + $0]) }
                let m = row.max()!
                let l = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                expected.append(l)
                expectedLoss.append(l - row[Int(targets[r])])
            }
            Self.close(out, expected + expectedLoss, relative: 2e-6, floor: 1, "cross-entropy \(classes)")
            let grad = Self.sameAtEveryLevel("cross-entropy backward \(classes)") {
                var d = [Float](repeating: 0, count: rows * classes)
                tessera_engine_cross_entropy_backward(logits, targets, lse, 0.25, &d, rows, classes)
                return d
            }
            var expectedGrad = [Double]()
            for r in 0..<rows {
                for c in 0..<classes {
                    let p = Foundation.exp(Double(logits[r * classes + c]) - Double(lse[r]))
                    expectedGrad.append(0.25 * (p - (c == Int(targets[r]) ? 1 : 0)))
                }
            }
            Self.close(grad, expectedGrad, relative: 2e-6, floor: 1e-2, "cross-entropy backward \(classes)")
        }
    }

    @Test("SwiGLU, SiLU and exp (within 4 ulp-scale error), with ±inf, NaN and overflow")
    func swiGLU() {
        for n in Self.widths + [1000] {
            var gate = Self.normals(n, seed: 21 + UInt64(n), scale: 5), up = Self.normals(n, seed: 22)
            if n > 10 { gate[3] = .infinity; gate[4] = -.infinity; gate[5] = .nan; gate[6] = 95; gate[7] = -95 }
            let dy = Self.normals(n, seed: 23)
            let y = Self.sameAtEveryLevel("swiglu \(n)") {
                var y = [Float](repeating: 0, count: n)
                tessera_engine_swiglu(gate, up, &y, n)
                return y
            }
            let grads = Self.sameAtEveryLevel("swiglu backward \(n)") {
                var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
                tessera_engine_swiglu_backward(gate, up, dy, &dg, &du, n)
                return dg + du
            }
            let silu = Self.sameAtEveryLevel("silu \(n)") {
                var y = [Float](repeating: 0, count: n)
                tessera_engine_silu(gate, &y, n)
                return y
            }
            let exps = Self.sameAtEveryLevel("exp \(n)") {
                var y = [Float](repeating: 0, count: n)
                tessera_engine_exp(gate, &y, n)
                return y
            }
            let finite = gate.indices.filter { gate[$0].isFinite && abs(gate[$0]) < 80 }
            let sig = { (g: Double) in 1 / (1 + Foundation.exp(-g)) }
            Self.close(finite.map { y[$0] }, finite.map { Double(gate[$0]) * sig(Double(gate[$0])) * Double(up[$0]) }, relative: 1e-6, floor: 1e-2, "swiglu \(n)")
            Self.close(finite.map { silu[$0] }, finite.map { Double(gate[$0]) * sig(Double(gate[$0])) }, relative: 1e-6, floor: 1e-2, "silu \(n)")
            Self.close(finite.map { exps[$0] }, finite.map { Foundation.exp(Double(gate[$0])) }, relative: 4e-7, floor: 1e-30, "exp \(n)")
            let expectedDup = finite.map { Double(dy[$0]) * Double(gate[$0]) * sig(Double(gate[$0])) }
            let expectedDgate = finite.map { i -> Double in
                let g = Double(gate[i]), s = sig(g)
                return Double(dy[i]) * Double(up[i]) * s * (1 + g * (1 - s))
            }
            Self.close(finite.map { grads[n + $0] }, expectedDup, relative: 1e-6, floor: 1e-2, "swiglu dup \(n)")
            Self.close(finite.map { grads[$0] }, expectedDgate, relative: 1e-5, floor: 1e-2, "swiglu dgate \(n)")
            // The scalar exp of TesseraTensor (UnaryFunction.apply, derivatives) is the same algorithm.
            #expect(zip(gate, exps).allSatisfy { x, e in sexp(x).bitPattern == e.bitPattern || (e.isNaN && sexp(x).isNaN) }, "sexp \(n)")
            if n > 10 {
                #expect(exps[3] == .infinity && exps[4] == 0 && exps[5].isNaN && exps[6] == .infinity && exps[7] == 0)
            }
        }
    }

    @Test("rotary embedding: forward within 1e-6, and the inverse undoes it")
    func rope() {
        for headDim in [2, 8, 34, 64] {
            let heads = 3, half = headDim / 2
            let x = Self.normals(heads * headDim, seed: 31 + UInt64(headDim))
            let angles = (0..<half).map { Float($0 + 1) * 0.37 }
            let cosine = angles.map { Float(Foundation.cos(Double($0))) }, sine = angles.map { Float(Foundation.sin(Double($0))) }
            let y = Self.sameAtEveryLevel("rope \(headDim)") {
                var y = [Float](repeating: 0, count: heads * headDim)
                tessera_engine_rope_row(x, &y, heads, headDim, cosine, sine, 0)
                return y
            }
            let back = Self.sameAtEveryLevel("rope inverse \(headDim)") {
                var z = [Float](repeating: 0, count: heads * headDim)
                tessera_engine_rope_row(y, &z, heads, headDim, cosine, sine, 1)
                return z
            }
            var expected = [Double]()
            for h in 0..<heads {
                let o = h * headDim
                let first = (0..<half).map { Double(x[o + $0]) * Double(cosine[$0]) - Double(x[o + half + $0]) * Double(sine[$0]) }
                let second = (0..<half).map { Double(x[o + half + $0]) * Double(cosine[$0]) + Double(x[o + $0]) * Double(sine[$0]) }
                expected += first + second
            }
            Self.close(y, expected, relative: 1e-6, floor: 1e-1, "rope \(headDim)")
            Self.close(back, x.map(Double.init), relative: 1e-6, floor: 1e-1, "rope round trip \(headDim)")
        }
    }

    @Test("causal softmax and the attention score gradient (within 1e-5), zeros above the diagonal")
    func attention() {
        for positions in [1, 5, 16, 17, 40] {
            let scores = Self.normals(positions * positions, seed: 41 + UInt64(positions), scale: 3)
            let dP = Self.normals(positions * positions, seed: 42)
            let p = Self.sameAtEveryLevel("causal softmax \(positions)") {
                var s = scores
                // Two row blocks, as the blocked attention calls it.
                tessera_engine_causal_softmax(&s, positions, 0, positions / 2)
                tessera_engine_causal_softmax(&s, positions, positions / 2, positions - positions / 2)
                return s
            }
            let ds = Self.sameAtEveryLevel("score gradient \(positions)") {
                var d = dP
                tessera_engine_attention_score_grad(p, &d, positions, 0.125, 0, positions / 2)
                tessera_engine_attention_score_grad(p, &d, positions, 0.125, positions / 2, positions - positions / 2)
                return d
            }
            var expectedP = [Double](), expectedDs = [Double]()
            for t in 0..<positions {
                let row = (0...t).map { Double(scores[t * positions + $0]) }
                let m = row.max()!
                let s = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                let probs = row.map { Foundation.exp($0 - m) / s }
                expectedP += probs + [Double](repeating: 0, count: positions - t - 1)
                let pr = (0...t).map { Double(p[t * positions + $0]) }, dr = (0...t).map { Double(dP[t * positions + $0]) }
                let d = zip(pr, dr).reduce(0) { $0 + $1.0 * $1.1 }
                expectedDs += zip(pr, dr).map { $0 * ($1 - d) * 0.125 } + [Double](repeating: 0, count: positions - t - 1)
            }
            Self.close(p, expectedP, relative: 2e-6, floor: 1e-3, "causal softmax \(positions)")
            Self.close(ds, expectedDs, relative: 1e-5, floor: 1e-2, "score gradient \(positions)")
        }
    }

    @Test("fused causal attention, forward and backward with accumulation (within 2e-5 of double precision)")
    func fusedAttention() {
        for (positions, headDim) in [(1, 16), (5, 16), (37, 32), (70, 64)] {
            let qStride = 3 * headDim, kvStride = 2 * headDim  // rows interleaved with other heads, as in [B, T, H, hd]
            let q = Self.normals(positions * qStride, seed: 81 + UInt64(positions)), k = Self.normals(positions * kvStride, seed: 82)
            let v = Self.normals(positions * kvStride, seed: 83), dOut = Self.normals(positions * qStride, seed: 84)
            let dk0 = Self.normals(positions * kvStride, seed: 85), dv0 = Self.normals(positions * kvStride, seed: 86)
            let scale = 1 / Float(headDim).squareRoot()
            let scratchCount = tessera_engine_attention_scratch_floats(positions, headDim)
            var probabilities = [Float](repeating: 0, count: positions * positions)
            let forward = Self.sameAtEveryLevel("attention forward T \(positions) hd \(headDim)") {
                var out = [Float](repeating: .nan, count: positions * qStride)
                var scratch = [Float](repeating: 0, count: scratchCount)
                tessera_engine_attention_forward(q, qStride, k, v, kvStride, &out, qStride, &probabilities, positions, headDim, scale, &scratch)
                return (0..<positions).flatMap { Array(out[$0 * qStride..<$0 * qStride + headDim]) } + probabilities
            }
            let backward = Self.sameAtEveryLevel("attention backward T \(positions) hd \(headDim)") {
                var dq = [Float](repeating: .nan, count: positions * qStride), dk = dk0, dv = dv0
                var ds = [Float](repeating: .nan, count: positions * positions), scratch = [Float](repeating: 0, count: scratchCount)
                tessera_engine_attention_backward(
                    q, qStride, k, v, kvStride, probabilities, dOut, &dq, &dk, &dv, &ds, positions, headDim, scale, 1, &scratch)
                let rows = { (x: [Float], stride: Int) in (0..<positions).flatMap { Array(x[$0 * stride..<$0 * stride + headDim]) } }
                return rows(dq, qStride) + rows(dk, kvStride) + rows(dv, kvStride)
            }
            // Double-precision reference.
            func at(_ x: [Float], _ stride: Int, _ t: Int, _ d: Int) -> Double { Double(x[t * stride + d]) }
            var P = [[Double]](repeating: [Double](repeating: 0, count: positions), count: positions)
            var expectedOut = [Double]()
            for t in 0..<positions {
                let scores = (0...t).map { j in (0..<headDim).reduce(0.0) { $0 + at(q, qStride, t, $1) * at(k, kvStride, j, $1) } * Double(scale) }
                let m = scores.max()!
                let e = scores.map { Foundation.exp($0 - m) }
                let z = e.reduce(0, +)
                for j in 0...t { P[t][j] = e[j] / z }
                expectedOut += (0..<headDim).map { d in (0...t).reduce(0.0) { $0 + P[t][$1] * at(v, kvStride, $1, d) } }
            }
            Self.close(forward, expectedOut + P.flatMap { $0 }, relative: 2e-5, floor: 1e-1, "attention forward T \(positions) hd \(headDim)")
            var dS = [[Double]](repeating: [Double](repeating: 0, count: positions), count: positions)
            for t in 0..<positions {
                let dP = (0...t).map { j in (0..<headDim).reduce(0.0) { $0 + at(dOut, qStride, t, $1) * at(v, kvStride, j, $1) } }
                let inner = (0...t).reduce(0.0) { $0 + dP[$1] * P[t][$1] }
                for j in 0...t { dS[t][j] = P[t][j] * (dP[j] - inner) * Double(scale) }
            }
            var expectedDq = [Double](), expectedDk = [Double](), expectedDv = [Double]()
            for t in 0..<positions {
                expectedDq += (0..<headDim).map { d in (0...t).reduce(0.0) { $0 + dS[t][$1] * at(k, kvStride, $1, d) } }
            }
            for j in 0..<positions {
                expectedDk += (0..<headDim).map { d in at(dk0, kvStride, j, d) + (j..<positions).reduce(0.0) { $0 + dS[$1][j] * at(q, qStride, $1, d) } }
                expectedDv += (0..<headDim).map { d in at(dv0, kvStride, j, d) + (j..<positions).reduce(0.0) { $0 + P[$1][j] * at(dOut, qStride, $1, d) } }
            }
            Self.close(backward, expectedDq + expectedDk + expectedDv, relative: 2e-5, floor: 1e-1, "attention backward T \(positions) hd \(headDim)")
        }
    }

    @Test("elementwise arithmetic is exact IEEE arithmetic at every level")
    func elementwise() {
        for n in Self.widths + [1000] {
            let a = Self.normals(n, seed: 51 + UInt64(n)), b = Self.normals(n, seed: 52)
            let operations: [(tessera_engine_operation, (Float, Float) -> Float)] = [
                (TESSERA_ENGINE_ADD, +), (TESSERA_ENGINE_SUBTRACT, -), (TESSERA_ENGINE_MULTIPLY, *), (TESSERA_ENGINE_DIVIDE, /),
            ]
            for (code, op) in operations {
                let c = Self.sameAtEveryLevel("binary \(code) \(n)") {
                    var c = [Float](repeating: 0, count: n)
                    tessera_engine_binary(code, a, b, &c, n)
                    return c
                }
                #expect(c == zip(a, b).map(op), "binary \(code) \(n)")
                for left in [0, 1] {
                    let s = Self.sameAtEveryLevel("scalar \(code) \(n) \(left)") {
                        var c = [Float](repeating: 0, count: n)
                        tessera_engine_binary_scalar(code, a, 1.75, Int32(left), &c, n)
                        return c
                    }
                    #expect(s == a.map { left == 1 ? op(1.75, $0) : op($0, 1.75) }, "scalar \(code) \(n) left \(left)")
                }
            }
            let sum = Self.sameAtEveryLevel("accumulate \(n)") {
                var c = a
                tessera_engine_accumulate(&c, b, n)
                return c
            }
            #expect(sum == zip(a, b).map(+))
            let reductions = Self.sameAtEveryLevel("sum and dot \(n)") { [tessera_engine_sum(a, n), tessera_engine_dot(a, b, n)] }
            Self.close(reductions, [a.reduce(0.0) { $0 + Double($1) }, zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }],
                       relative: 1e-5, floor: 1, "sum and dot \(n)")
        }
    }

    @Test("embedding scatter-add: rows in index order, split by vocabulary range")
    func addRows() {
        let vocabulary = 11, dim = 19, count = 40
        let rows = Self.normals(count * dim, seed: 61)
        let indices = (0..<count).map { Int32(($0 * 5 + 2) % vocabulary) }
        let table = Self.sameAtEveryLevel("add rows") {
            var table = [Float](repeating: 0, count: vocabulary * dim)
            tessera_engine_add_rows(&table, indices, rows, count, dim, 0, 6)
            tessera_engine_add_rows(&table, indices, rows, count, dim, 6, Int32(vocabulary))
            return table
        }
        var expected = [Float](repeating: 0, count: vocabulary * dim)
        for (r, index) in indices.enumerated() {
            for j in 0..<dim { expected[Int(index) * dim + j] += rows[r * dim + j] }
        }
        #expect(table == expected, "the same additions in the same order as a plain loop")
    }

    @Test("AdamW step: bit for bit the scalar formula at every level")
    func adamW() {
        for n in Self.widths + [1000] {
            let g = Self.normals(n, seed: 71 + UInt64(n)), p0 = Self.normals(n, seed: 72)
            let m0 = Self.normals(n, seed: 73, scale: 0.1), v0 = Self.normals(n, seed: 74, scale: 0.1).map { $0 * $0 }
            var k = tessera_adamw_constants(beta1: 0.9, beta2: 0.95, epsilon: 1e-8, decay: 1 - 1e-3 * 0.1, step_size: 1e-3 / 0.19, bias2_root: 0.3)
            let result = Self.sameAtEveryLevel("adamw \(n)") {
                var p = p0, m = m0, v = v0
                tessera_engine_adamw(&p, g, &m, &v, n, &k)
                return p + m + v
            }
            var p = p0, m = m0, v = v0
            for i in 0..<n {
                let mi = k.beta1 * m[i] + (1 - k.beta1) * g[i]
                let vi = k.beta2 * v[i] + (1 - k.beta2) * g[i] * g[i]
                m[i] = mi
                v[i] = vi
                p[i] = p[i] * k.decay - k.step_size * mi / (vi.squareRoot() / k.bias2_root + k.epsilon)
            }
            #expect(result == p + m + v, "adamw \(n)")
        }
    }
}
