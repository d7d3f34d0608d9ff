// Device probe for the CUDA build path. The GPU engine (kernels, cuBLAS/cuSOLVER loaded with dlopen)
// is the CUDA backend's work; this file only lets the addon report whether a device is usable.
#include <cuda_runtime.h>

extern "C" int tegnas_cuda_device_count(const char** error) {
  int n = 0;
  const cudaError_t st = cudaGetDeviceCount(&n);
  if (st != cudaSuccess) {
    if (error) *error = cudaGetErrorString(st);
    return 0;
  }
  return n;
}
