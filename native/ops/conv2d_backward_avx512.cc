// The conv2d backward for AVX-512: see conv2d_backward.h.
#include "conv2d_backward.h"

namespace tegnas {
#if TEGNAS_CONV_ISA_COPIES
TEGNAS_CONV_ISA(conv_bwd_avx512, __attribute__((target("avx512f"))), float, true)
TEGNAS_CONV_ISA(conv_bwd_avx512, __attribute__((target("avx512f"))), double, false)
#endif
}  // namespace tegnas
