# The CPU engine's sources: one list, read by CMakeLists.txt; binding.gyp lists the same files
# (test/build.test.ts checks that the two lists agree).
file(READ "${CMAKE_CURRENT_SOURCE_DIR}/package.json" _pkg)
string(REGEX MATCH "\"version\": *\"([^\"]+)\"" _m "${_pkg}")
set(TEGNAS_PACKAGE_VERSION "${CMAKE_MATCH_1}")

set(TEGNAS_CPU_SOURCES
  native/linalg/gemm.cc
  native/ops/conv2d.cc
  native/ops/conv2d_backward_avx512.cc
  native/ops/conv2d_backward_avx2.cc
  native/ops/conv2d_backward_base.cc
  native/ops/batchnorm.cc
  native/ops/relu.cc
  native/ops/pool.cc
  native/ops/linear.cc
  native/ops/structural.cc
  native/graph/plan.cc
  native/graph/executor.cc
  native/linalg/eigen.cc
  native/linalg/solve.cc
  native/metrics/patterns.cc
  native/metrics/indicators.cc
  native/tools/peak.cc
  native/backend.cc
)
