{
  "targets": [
    {
      "target_name": "tegnas",
      "sources": [
        "native/addon.cc",
        "native/linalg/gemm.cc",
        "native/ops/conv2d.cc",
        "native/ops/conv2d_backward_avx512.cc",
        "native/ops/conv2d_backward_avx2.cc",
        "native/ops/conv2d_backward_base.cc",
        "native/ops/batchnorm.cc",
        "native/ops/relu.cc",
        "native/ops/pool.cc",
        "native/ops/linear.cc",
        "native/ops/structural.cc",
        "native/graph/plan.cc",
        "native/graph/executor.cc",
        "native/linalg/eigen.cc",
        "native/linalg/solve.cc",
        "native/metrics/patterns.cc",
        "native/metrics/indicators.cc",
        "native/tools/peak.cc",
        "native/backend.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "TEGNAS_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-fexceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions"
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": [
            "/std:c++17"
          ]
        }
      }
    }
  ]
}
