// The conv2d backward for AVX2 with FMA: see conv2d_backward.h.
#include "conv2d_backward.h"

namespace tegnas {
#if TEGNAS_CONV_ISA_COPIES
TEGNAS_CONV_ISA(conv_bwd_avx2, __attribute__((target("avx2,fma"))), float, false)
TEGNAS_CONV_ISA(conv_bwd_avx2, __attribute__((target("avx2,fma"))), double, false)
#endif
}  // namespace tegnas
