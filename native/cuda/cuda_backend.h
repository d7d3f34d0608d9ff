// The CUDA backend: the indicators computed on one GPU (per-sample gradients, NTK Gram with cuBLAS,
// spectrum with cuSOLVER syevd, the regression with cuSOLVER getrf/getrs, activation patterns hashed
// on the device), with only the final numbers copied back.
#pragma once
#include <string>

#include "../backend.h"

namespace tegnas {
namespace cuda {

// Registers the backend "cuda" (idempotent). It is created on first use: find the driver and a device,
// run a test kernel, load cuBLAS / cuSOLVER, open the device, then a self-test against the CPU engine.
// backend_details("cuda") then holds: runtime, architectures, abiCheck, driver, devices, device, name,
// computeCapability, memory (bytes), cublas, cusolver (the files loaded), selfTest, as far as it got.
void register_backend();

// Compares a backend with the CPU engine on a small network that uses every op, in float64
// (forward, per-sample gradients, NTK indicators, NASWOT, linear regions). "" when they agree, else
// what differed.
std::string self_test(Backend& backend);

}  // namespace cuda
}  // namespace tegnas
