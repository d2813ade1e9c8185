// Loads the BLAS at run time with a kernel family chosen from the CPU; see include/CTesseraBLAS.h.
#define _GNU_SOURCE
#include "CTesseraBLAS.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

// MARK: CPU

static tessera_cpu_info cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static void detect_cpu(void) {
    memset(&cpu, 0, sizeof cpu);
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    memcpy(cpu.vendor, &b, 4);
    memcpy(cpu.vendor + 4, &d, 4);
    memcpy(cpu.vendor + 8, &c, 4);
    __get_cpuid(1, &a, &b, &c, &d);
    uint32_t base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    cpu.family = base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family;
    cpu.model = (base_family == 0x6 || base_family == 0xF) ? (((a >> 16) & 0xF) << 4) + base_model : base_model;
    uint64_t f = 0;
    if (c & (1u << 0)) f |= TESSERA_CPU_SSE3;
    if (c & (1u << 9)) f |= TESSERA_CPU_SSSE3;
    if (c & (1u << 19)) f |= TESSERA_CPU_SSE41;
    if (c & (1u << 20)) f |= TESSERA_CPU_SSE42;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 0x6) == 0x6;
    int zmm = ymm && (xcr0 & 0xE0) == 0xE0;
    int tiles = (xcr0 & 0x60000) == 0x60000;
    if (ymm && (c & (1u << 28))) f |= TESSERA_CPU_AVX;
    if (ymm && (c & (1u << 12))) f |= TESSERA_CPU_FMA;
    if (ymm && (c & (1u << 29))) f |= TESSERA_CPU_F16C;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (ymm && (b & (1u << 5))) f |= TESSERA_CPU_AVX2;
        if (zmm) {
            if (b & (1u << 16)) f |= TESSERA_CPU_AVX512F;
            if (b & (1u << 17)) f |= TESSERA_CPU_AVX512DQ;
            if (b & (1u << 28)) f |= TESSERA_CPU_AVX512CD;
            if (b & (1u << 30)) f |= TESSERA_CPU_AVX512BW;
            if (b & (1u << 31)) f |= TESSERA_CPU_AVX512VL;
            if (c & (1u << 11)) f |= TESSERA_CPU_AVX512VNNI;
            if (d & (1u << 23)) f |= TESSERA_CPU_AVX512FP16;
        }
        if (tiles && (d & (1u << 24))) f |= TESSERA_CPU_AMX;
        unsigned sub = a;
        if (sub >= 1 && zmm) {
            __cpuid_count(7, 1, a, b, c, d);
            if (a & (1u << 5)) f |= TESSERA_CPU_AVX512BF16;
        }
    }
    cpu.features = f;
    __get_cpuid(0x80000000, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        unsigned words[12];
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            __get_cpuid(0x80000002 + leaf, &words[4 * leaf], &words[4 * leaf + 1], &words[4 * leaf + 2], &words[4 * leaf + 3]);
        }
        char brand[49];
        memcpy(brand, words, 48);
        brand[48] = 0;
        const char *start = brand;
        while (*start == ' ') start++;
        snprintf(cpu.brand, sizeof cpu.brand, "%s", start);
        size_t n = strlen(cpu.brand);
        while (n > 0 && cpu.brand[n - 1] == ' ') cpu.brand[--n] = 0;
    }
#endif
}

const tessera_cpu_info *tessera_cpu_info_get(void) {
    pthread_once(&cpu_once, detect_cpu);
    return &cpu;
}

const char *tessera_blas_preferred_core(void) {
    const tessera_cpu_info *info = tessera_cpu_info_get();
    uint64_t f = info->features;
    const uint64_t avx512 = TESSERA_CPU_AVX512F | TESSERA_CPU_AVX512BW | TESSERA_CPU_AVX512VL | TESSERA_CPU_AVX512DQ
                            | TESSERA_CPU_AVX512CD;
    // The kernel families OpenBLAS itself picks for the CPUs it knows with these features; their
    // single-precision GEMM kernels are the same across the newer names (CooperLake,
    // SapphireRapids use SkylakeX's), and every DYNAMIC_ARCH build since 0.3.x has these four.
    if ((f & avx512) == avx512) return "SkylakeX";
    if ((f & TESSERA_CPU_AVX2) && (f & TESSERA_CPU_FMA)) {
        int amd = strcmp(info->vendor, "AuthenticAMD") == 0 || strcmp(info->vendor, "HygonGenuine") == 0;
        return amd ? "Zen" : "Haswell";
    }
    if (f & TESSERA_CPU_AVX) return "Sandybridge";
    return "";
}

// MARK: Library

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*threads_fn)(int);
typedef char *(*string_fn)(void);

static tessera_blas_info info;
static sgemm_fn library_sgemm;
static threads_fn library_threads;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

// CBLAS enum values (cblas.h): row-major 101, no-transpose 111, transpose 112.
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

int tessera_blas_core_class(const char *core) {
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const avx2[] = {"haswell", "zen"};
    static const char *const avx[] = {"sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"};
    char lower[64];
    size_t n = 0;
    for (; core[n] && n + 1 < sizeof lower; n++) lower[n] = (char)tolower((unsigned char)core[n]);
    lower[n] = 0;
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++) if (strcmp(lower, avx512[i]) == 0) return 3;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++) if (strcmp(lower, avx2[i]) == 0) return 2;
    for (size_t i = 0; i < sizeof avx / sizeof *avx; i++) if (strcmp(lower, avx[i]) == 0) return 1;
    return 0;
}

/// Reads symbols and identity from a loaded library; 0 when it has no cblas_sgemm.
static int adopt(void *handle) {
    sgemm_fn sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (!sgemm) return 0;
    library_sgemm = sgemm;
    library_threads = (threads_fn)dlsym(handle, "openblas_set_num_threads");
    if (!library_threads) library_threads = (threads_fn)dlsym(handle, "bli_thread_set_num_threads");
    if (!library_threads) library_threads = (threads_fn)dlsym(handle, "MKL_Set_Num_Threads");
    string_fn corename = (string_fn)dlsym(handle, "openblas_get_corename");
    string_fn config = (string_fn)dlsym(handle, "openblas_get_config");
    info.core[0] = 0;
    info.configuration[0] = 0;
    if (corename) snprintf(info.core, sizeof info.core, "%s", corename());
    if (config) snprintf(info.configuration, sizeof info.configuration, "%s", config());
    Dl_info where;
    if (dladdr((void *)sgemm, &where) && where.dli_fname) {
        snprintf(info.library_path, sizeof info.library_path, "%s", where.dli_fname);
    }
    return 1;
}

static const char *const default_names[] = {
#if defined(__APPLE__)
    "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib",
#else
    "libopenblas.so.0", "libopenblas.so",
#endif
};

/// Opens `name` with OPENBLAS_CORETYPE set to `core` for the library's initializer (restored after).
static void *open_with_core(const char *name, const char *core, int private_namespace) {
    const char *previous = getenv("OPENBLAS_CORETYPE");
    char saved[64] = {0};
    if (previous) snprintf(saved, sizeof saved, "%s", previous);
    if (core && *core) setenv("OPENBLAS_CORETYPE", core, 1);
    void *handle = NULL;
#if defined(__linux__) && defined(__GLIBC__)
    if (private_namespace) handle = dlmopen(LM_ID_NEWLM, name, RTLD_NOW | RTLD_LOCAL);
    else
#endif
        handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    (void)private_namespace;
    if (core && *core) {
        if (previous) setenv("OPENBLAS_CORETYPE", saved, 1);
        else unsetenv("OPENBLAS_CORETYPE");
    }
    return handle;
}

static void load(void) {
    memset(&info, 0, sizeof info);
    const char *user_library = getenv("TESSERA_BLAS_LIBRARY");
    const char *user_core = getenv("OPENBLAS_CORETYPE");
    const char *pick = tessera_blas_preferred_core();
    int user_set_core = user_core && *user_core;
    snprintf(info.requested_core, sizeof info.requested_core, "%s", user_set_core ? user_core : pick);

    const char *const *names = default_names;
    size_t count = sizeof default_names / sizeof *default_names;
    if (user_library && *user_library) {
        names = &user_library;
        count = 1;
    }

    // A library the process already holds has run its initializer: its core is fixed.
    void *present = NULL;
    for (size_t i = 0; i < count && !present; i++) present = dlopen(names[i], RTLD_NOW | RTLD_NOLOAD);
    if (present && adopt(present)) {
        info.selection = info.core[0] ? TESSERA_BLAS_PROCESS : TESSERA_BLAS_OTHER;
        if (info.core[0] && !user_set_core && *pick && tessera_blas_core_class(info.core) < tessera_blas_core_class(pick)) {
            char path[512];
            snprintf(path, sizeof path, "%s", info.library_path);
            char weak[64];
            snprintf(weak, sizeof weak, "%s", info.core);
            void *copy = open_with_core(path, pick, 1);
            const char *why = copy ? NULL : dlerror();
            if (copy && adopt(copy)) {
                info.selection = TESSERA_BLAS_PRIVATE_COPY;
                snprintf(info.message, sizeof info.message,
                         "the process had loaded OpenBLAS with the narrower core %s; Tessera uses a private copy", weak);
            } else {
                adopt(present);
                snprintf(info.message, sizeof info.message,
                         "the process had loaded OpenBLAS with core %s and a private copy could not be loaded: %s", weak,
                         why ? why : "no cblas_sgemm in it");
            }
        }
        if (library_threads) library_threads(1);
        return;
    }

    for (size_t i = 0; i < count; i++) {
        void *handle = open_with_core(names[i], user_set_core ? NULL : pick, 0);
        if (handle && adopt(handle)) {
            if (!info.core[0]) info.selection = TESSERA_BLAS_OTHER;
            else info.selection = user_set_core ? TESSERA_BLAS_USER : TESSERA_BLAS_CHOSEN;
            if (library_threads) library_threads(1);
            return;
        }
    }
    const char *error = dlerror();
    info.selection = TESSERA_BLAS_FALLBACK;
    snprintf(info.message, sizeof info.message, "no BLAS library could be loaded (%s); the portable fallback GEMM runs",
             error ? error : (user_library ? user_library : "libopenblas.so.0"));
}

const tessera_blas_info *tessera_blas_info_get(void) {
    pthread_once(&blas_once, load);
    return &info;
}

void tessera_blas_set_threads(int threads) {
    pthread_once(&blas_once, load);
    if (library_threads) library_threads(threads < 1 ? 1 : threads);
}

void tessera_blas_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
    pthread_once(&blas_once, load);
    if (library_sgemm) {
        library_sgemm(ROW_MAJOR, transpose_a ? TRANS : NO_TRANS, transpose_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b,
                      ldb, beta, c, ldc);
    } else {
        tessera_blas_fallback_sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}

// MARK: Fallback

void tessera_blas_fallback_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a,
                                 int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *row = c + (size_t)i * ldc;
        if (beta == 0) {
            for (int j = 0; j < n; j++) row[j] = 0;
        } else if (beta != 1) {
            for (int j = 0; j < n; j++) row[j] *= beta;
        }
        if (transpose_b) {
            // op(B)[p][j] = b[j * ldb + p]: a dot product per output, over contiguous rows of b.
            for (int j = 0; j < n; j++) {
                const float *column = b + (size_t)j * ldb;
                float sum = 0;
                for (int p = 0; p < k; p++) {
                    float x = transpose_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                    sum += x * column[p];
                }
                row[j] += alpha * sum;
            }
        } else {
            for (int p = 0; p < k; p++) {
                float x = alpha * (transpose_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]);
                const float *source = b + (size_t)p * ldb;
                for (int j = 0; j < n; j++) row[j] += x * source[j];
            }
        }
    }
}
