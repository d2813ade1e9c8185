// Internal to CTesseraKernels: the level dispatch shared by the kernel files.
#ifndef C_TESSERA_KERNELS_DISPATCH_H
#define C_TESSERA_KERNELS_DISPATCH_H

#include "include/CTesseraKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TESSERA_X86 1
#else
#define TESSERA_X86 0
#endif

/// The level kernels called on this thread run at (the thread's override, else the process-wide one).
__attribute__((visibility("hidden"))) int tessera_kernels_current_level(void);

#endif
