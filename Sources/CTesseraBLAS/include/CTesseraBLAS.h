// The BLAS library Tessera's matrix products run on, loaded at run time.
//
// Tessera does not link a BLAS at build time. On first use it loads one (OpenBLAS by default)
// with dlopen, after choosing OpenBLAS's kernel family ("core") from the CPU's features, so that
// a CPU the library does not know by model never falls back to the generic SSE kernels. A core
// set by the user (OPENBLAS_CORETYPE) is respected. See Documentation/TensorEngine.md.
#ifndef C_TESSERA_BLAS_H
#define C_TESSERA_BLAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How the BLAS in use got its kernel family.
typedef enum {
    /// No BLAS library could be loaded: Tessera's own portable GEMM runs.
    TESSERA_BLAS_FALLBACK = 0,
    /// Tessera chose the core from the CPU's features and loaded the library with it.
    TESSERA_BLAS_CHOSEN = 1,
    /// The user set OPENBLAS_CORETYPE; the library was loaded with it.
    TESSERA_BLAS_USER = 2,
    /// The process had already loaded the library (its own choice stands).
    TESSERA_BLAS_PROCESS = 3,
    /// The process had loaded the library with a narrower core than the CPU runs: Tessera loaded a
    /// private copy (its own link-map namespace) with the chosen core.
    TESSERA_BLAS_PRIVATE_COPY = 4,
    /// A library without a core choice (not OpenBLAS, e.g. named by TESSERA_BLAS_LIBRARY).
    TESSERA_BLAS_OTHER = 5,
} tessera_blas_selection;

/// What was loaded. Strings are NUL-terminated, empty when unknown.
typedef struct {
    tessera_blas_selection selection;
    /// The file the library was loaded from (dladdr of cblas_sgemm).
    char library_path[512];
    /// openblas_get_corename(), lower case as OpenBLAS reports it ("skylakex", "haswell", "prescott").
    char core[64];
    /// openblas_get_config(): version and build options.
    char configuration[256];
    /// The core Tessera asked for (OPENBLAS_CORETYPE value), or the user's value.
    char requested_core[64];
    /// Why loading failed or what was worked around, for diagnostics.
    char message[256];
} tessera_blas_info;

/// Loads the library on first call (thread-safe) and describes it.
const tessera_blas_info *tessera_blas_info_get(void);

/// The OpenBLAS core name Tessera picks for this CPU ("SkylakeX", "Haswell", "Zen",
/// "Sandybridge"), or "" when OpenBLAS's own choice is no worse (no AVX).
const char *tessera_blas_preferred_core(void);

/// The SIMD width class of an OpenBLAS core name (case-insensitive): 0 generic (SSE or unknown),
/// 1 AVX, 2 AVX2 + FMA, 3 AVX-512.
int tessera_blas_core_class(const char *core);

/// Row-major C ← alpha · op(A) · op(B) + beta · C (op = transpose when the flag is non-zero);
/// op(A) is m×k, op(B) is k×n. Through the loaded library's cblas_sgemm, else the fallback.
void tessera_blas_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);

/// Sets the library's own thread count (OpenBLAS, BLIS or MKL); no effect on the fallback.
void tessera_blas_set_threads(int threads);

/// The portable fallback GEMM alone (same contract as tessera_blas_sgemm), for tests.
void tessera_blas_fallback_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a,
                                 int lda, const float *b, int ldb, float beta, float *c, int ldc);

/// CPU identity and features (x86-64; zeros and empty strings elsewhere).
typedef struct {
    char vendor[16];
    char brand[64];
    uint32_t family, model;
    /// Feature flags, one bit each (TESSERA_CPU_*).
    uint64_t features;
} tessera_cpu_info;

// Feature flags of tessera_cpu_info.features.
#define TESSERA_CPU_SSE3 0x1u
#define TESSERA_CPU_SSSE3 0x2u
#define TESSERA_CPU_SSE41 0x4u
#define TESSERA_CPU_SSE42 0x8u
#define TESSERA_CPU_AVX 0x10u
#define TESSERA_CPU_AVX2 0x20u
#define TESSERA_CPU_FMA 0x40u
#define TESSERA_CPU_F16C 0x80u
#define TESSERA_CPU_AVX512F 0x100u
#define TESSERA_CPU_AVX512BW 0x200u
#define TESSERA_CPU_AVX512VL 0x400u
#define TESSERA_CPU_AVX512DQ 0x800u
#define TESSERA_CPU_AVX512CD 0x1000u
#define TESSERA_CPU_AVX512VNNI 0x2000u
#define TESSERA_CPU_AVX512BF16 0x4000u
#define TESSERA_CPU_AVX512FP16 0x8000u
#define TESSERA_CPU_AMX 0x10000u

/// This CPU (usable features only: the OS saves the registers they need).
const tessera_cpu_info *tessera_cpu_info_get(void);

#ifdef __cplusplus
}
#endif

#endif
