// TEGNAS_CUDA_EMULATION only: kernels.cu compiled as C++ for the host.
#include "emu_device.h"
#include "../kernels.cu"
