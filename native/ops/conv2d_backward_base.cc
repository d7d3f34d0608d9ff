// The conv2d backward for the baseline instruction set: see conv2d_backward.h.
#include "conv2d_backward.h"

namespace tegnas {
TEGNAS_CONV_ISA(conv_bwd_base, , float, false)
TEGNAS_CONV_ISA(conv_bwd_base, , double, false)
}  // namespace tegnas
