internal import CTesseraBLAS
import TesseraCore

/// Process-wide settings of the tensor engine.
///
/// Tessera parallelizes on its own (``ParallelLoop``): the BLAS always runs single-threaded
/// inside Tessera's workers, and large products are split across them. This keeps the BLAS's
/// spinning worker threads from competing with Tessera's elementwise loops for cores.
public enum TensorRuntime {
    /// Sets how many threads Tessera's parallel loops (and so its matrix products) use.
    /// - Parameter count: Threads, at least 1.
    public static func setThreadCount(_ count: Int) {
        blasConfigured()
        ParallelLoop.maximumThreads = max(1, count)
    }

    /// The number of threads Tessera's parallel loops use.
    public static var threadCount: Int { ParallelLoop.maximumThreads }

    /// The BLAS library the matrix products run on, loading it if no product has run yet.
    public static var blas: BLASBackend { BLASBackend.current }
}

/// The BLAS library Tessera's matrix products run on, and how its kernels were chosen.
///
/// Tessera does not link a BLAS at build time: the first product loads one (OpenBLAS unless
/// `TESSERA_BLAS_LIBRARY` names another CBLAS library) after choosing OpenBLAS's kernel family
/// ("core") from the CPU's features, so a CPU that the library does not know by model never runs
/// its generic SSE kernels. A core set in `OPENBLAS_CORETYPE` is respected. When the host process
/// had already loaded OpenBLAS with a narrower core than the CPU runs, Tessera loads a private copy
/// of the library (glibc `dlmopen`) with the right core and leaves the host's copy alone. With no
/// library at all, a portable GEMM runs (correct, slow) and ``selection`` says so.
public struct BLASBackend: Sendable, Hashable, CustomStringConvertible {
    /// How the library got its kernel family.
    public enum Selection: String, Sendable, Hashable {
        /// No BLAS library could be loaded; Tessera's portable GEMM runs.
        case fallback
        /// Tessera chose the core from the CPU's features.
        case chosen
        /// The user chose it with `OPENBLAS_CORETYPE`.
        case user
        /// The host process had loaded the library first; its choice stands.
        case process
        /// The host's copy had a narrower core than the CPU runs; Tessera loaded a private copy with the chosen one.
        case privateCopy = "private-copy"
        /// A CBLAS library that is not OpenBLAS (no core to choose).
        case other
    }

    /// The SIMD width of a BLAS kernel family.
    public enum KernelClass: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// SSE kernels (OpenBLAS's `Prescott`, `Nehalem`, …) or an unknown family.
        case generic = 0
        /// 256-bit AVX without FMA (`Sandybridge`, the Bulldozer family).
        case avx = 1
        /// AVX2 with FMA (`Haswell`, `Zen`).
        case avx2 = 2
        /// AVX-512 (`SkylakeX`, `CooperLake`, `SapphireRapids`).
        case avx512 = 3

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .generic: "generic"
            case .avx: "avx"
            case .avx2: "avx2"
            case .avx512: "avx512"
            }
        }

        /// The class of an OpenBLAS core name (case-insensitive).
        public init(openBLASCore core: String) {
            self = KernelClass(rawValue: Int(tessera_blas_core_class(core))) ?? .generic
        }
    }

    /// The file the library was loaded from; nil for the fallback.
    public let library: String?
    /// OpenBLAS's name of the kernel family in use (`openblas_get_corename()`), nil when not OpenBLAS.
    public let core: String?
    /// OpenBLAS's version and build options (`openblas_get_config()`).
    public let configuration: String?
    /// The core Tessera asked for, or the user's `OPENBLAS_CORETYPE`; nil when neither.
    public let requestedCore: String?
    /// How the kernels were chosen.
    public let selection: Selection
    /// What went wrong or was worked around, if anything.
    public let message: String?

    /// The SIMD width of the kernels in use (``KernelClass/generic`` for the fallback or an unknown library).
    public var kernelClass: KernelClass { core.map(KernelClass.init(openBLASCore:)) ?? .generic }

    /// Whether the products run below what this CPU can do: the portable fallback on a CPU with
    /// AVX2, or an OpenBLAS core of a narrower class than ``preferredCore``. A library that is not
    /// OpenBLAS (MKL, BLIS) does not say which kernels it runs and is never flagged.
    public var runsBelowCPU: Bool {
        switch selection {
        case .fallback: return HostCPU.current.has("avx2")
        case .other: return false
        default: return kernelClass < (Self.preferredCore.map(KernelClass.init(openBLASCore:)) ?? .generic)
        }
    }

    /// Whether the products run on generic (SSE) kernels, or the portable fallback, on a CPU with
    /// AVX2: a misconfiguration that `tessera doctor` fails on. Not said of libraries that are not
    /// OpenBLAS, which do not name their kernels.
    public var isGenericOnAVX2CPU: Bool {
        guard HostCPU.current.has("avx2") else { return false }
        return selection == .fallback || (core != nil && kernelClass < .avx2)
    }

    /// The kernel family Tessera picks for this CPU (`SkylakeX`, `Haswell`, `Zen`, `Sandybridge`),
    /// nil when the CPU has no AVX and OpenBLAS's own choice is as good.
    public static var preferredCore: String? {
        let core = String(cString: tessera_blas_preferred_core())
        return core.isEmpty ? nil : core
    }

    /// The library in use (loaded on first access).
    public static var current: BLASBackend {
        let info = tessera_blas_info_get()!.pointee
        func text<T>(_ tuple: T) -> String? {
            let value = cString(tuple)
            return value.isEmpty ? nil : value
        }
        let selection: Selection =
            switch info.selection {
            case TESSERA_BLAS_CHOSEN: .chosen
            case TESSERA_BLAS_USER: .user
            case TESSERA_BLAS_PROCESS: .process
            case TESSERA_BLAS_PRIVATE_COPY: .privateCopy
            case TESSERA_BLAS_OTHER: .other
            default: .fallback
            }
        return BLASBackend(
            library: text(info.library_path), core: text(info.core), configuration: text(info.configuration),
            requestedCore: text(info.requested_core), selection: selection, message: text(info.message))
    }

    public var description: String {
        var parts = [core.map { "OpenBLAS core \($0) (\(kernelClass))" } ?? (selection == .fallback ? "portable fallback GEMM" : "CBLAS")]
        parts.append("selection: \(selection.rawValue)")
        if let library { parts.append(library) }
        if let message { parts.append(message) }
        return parts.joined(separator: ", ")
    }
}

/// Pins the BLAS to one thread, once per process, before the first product.
private let blasSingleThreaded: Void = tessera_blas_set_threads(1)

@inline(__always)
func blasConfigured() { _ = blasSingleThreaded }

/// `C ← alpha · op(A) · op(B) + beta · C` (row-major) through the BLAS's `sgemm`, split across
/// ``ParallelLoop`` workers along the larger of `m` and `n` when the product is large.
/// `m × k` is op(A), `k × n` is op(B), `m × n` is C; leading dimensions are row strides.
func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    blasConfigured()
    let threads = ParallelLoop.maximumThreads
    let work = Double(m) * Double(n) * Double(k)
    guard threads > 1, work >= 1_048_576 else {
        serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if m >= n {
        let parts = min(threads, max(1, m / 16))
        let chunk = ((m + parts - 1) / parts + 15) / 16 * 16
        ParallelLoop.forEach(count: parts) { part in
            let start = part * chunk
            let rows = min(m, start + chunk) - start
            guard rows > 0 else { return }
            let aPart = transposeA ? a + start : a + start * lda
            serialGemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: n, k: k, alpha: alpha, a: aPart, lda: lda, b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc)
        }
    } else {
        let parts = min(threads, max(1, n / 16))
        let chunk = ((n + parts - 1) / parts + 15) / 16 * 16
        ParallelLoop.forEach(count: parts) { part in
            let start = part * chunk
            let cols = min(n, start + chunk) - start
            guard cols > 0 else { return }
            let bPart = transposeB ? b + start * ldb : b + start
            serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda, b: bPart, ldb: ldb, beta: beta, c: c + start, ldc: ldc)
        }
    }
}

/// One single-threaded `sgemm` call.
@inline(__always)
func serialGemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    tessera_blas_sgemm(
        transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c,
        Int32(ldc))
}

/// Raw `sgemm` on row-major matrices, for benchmarking the Tensor API against the BLAS itself.
public enum RawBLAS {
    /// `c[m×n] = a[m×k] · b[k×n]` in one `sgemm` call with the library's own threading set to
    /// `threads` for the call (then back to one thread).
    public static func sgemm(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        blasConfigured()
        tessera_blas_set_threads(Int32(max(1, threads)))
        serialGemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
        tessera_blas_set_threads(1)
    }

    /// Tessera's portable fallback GEMM (what runs when no BLAS library loads), same contract as
    /// ``sgemm(m:n:k:a:b:c:threads:)`` on one thread, with transposes, alpha and beta.
    public static func fallbackSgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        tessera_blas_fallback_sgemm(
            transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta,
            c, Int32(ldc))
    }

    /// `sgemm` through the loaded library with transposes, alpha and beta, on one thread.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        blasConfigured()
        serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

/// The CPU this process runs on: identity and the vector features the OS lets programs use.
public struct HostCPU: Sendable, Hashable {
    /// The vendor string (`GenuineIntel`, `AuthenticAMD`); empty off x86-64.
    public let vendor: String
    /// The brand string (`Intel(R) Xeon(R) Processor`); empty off x86-64.
    public let brand: String
    /// The display family and model.
    public let family: Int, model: Int
    /// Feature names in a fixed order (`sse3` … `avx512bf16`, `amx`).
    public let features: [String]

    /// Whether the CPU (and OS) support `name` (one of ``features``' names).
    public func has(_ name: String) -> Bool { features.contains(name) }

    /// This machine's CPU.
    public static var current: HostCPU {
        let info = tessera_cpu_info_get()!.pointee
        let names: [(UInt32, String)] = [
            (TESSERA_CPU_SSE3, "sse3"), (TESSERA_CPU_SSSE3, "ssse3"),
            (TESSERA_CPU_SSE41, "sse4.1"), (TESSERA_CPU_SSE42, "sse4.2"),
            (TESSERA_CPU_AVX, "avx"), (TESSERA_CPU_AVX2, "avx2"),
            (TESSERA_CPU_FMA, "fma"), (TESSERA_CPU_F16C, "f16c"),
            (TESSERA_CPU_AVX512F, "avx512f"), (TESSERA_CPU_AVX512BW, "avx512bw"),
            (TESSERA_CPU_AVX512VL, "avx512vl"), (TESSERA_CPU_AVX512DQ, "avx512dq"),
            (TESSERA_CPU_AVX512CD, "avx512cd"), (TESSERA_CPU_AVX512VNNI, "avx512vnni"),
            (TESSERA_CPU_AVX512BF16, "avx512bf16"), (TESSERA_CPU_AVX512FP16, "avx512fp16"),
            (TESSERA_CPU_AMX, "amx"),
        ]
        return HostCPU(
            vendor: cString(info.vendor), brand: cString(info.brand), family: Int(info.family), model: Int(info.model),
            features: names.filter { info.features & UInt64($0.0) != 0 }.map(\.1))
    }
}

/// The text of a fixed-size C `char` array (imported as a tuple), up to its first NUL.
private func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
}
