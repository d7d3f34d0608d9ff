# CUDA detection for TEGNAS_CUDA=AUTO|ON|OFF. Sets TEGNAS_WITH_CUDA and, when on, the tegnas_cuda
# library: the CUDA backend (kernels, device executor, cuBLAS / cuSOLVER loaded with dlopen at run
# time, so neither their headers nor their libraries are needed to build), with cudart linked
# statically so the addon still loads on a machine without a driver.
string(TOUPPER "${TEGNAS_CUDA}" TEGNAS_CUDA)
set(TEGNAS_WITH_CUDA OFF)
option(TEGNAS_CUDA_ABI_CHECK "Check native/cuda/cuda_libs.h against the cuBLAS/cuSOLVER headers when they are installed" ON)
if(TEGNAS_CUDA STREQUAL "OFF")
  message(STATUS "tegnas: CUDA backend disabled (TEGNAS_CUDA=OFF)")
elseif(TEGNAS_CUDA STREQUAL "AUTO" OR TEGNAS_CUDA STREQUAL "ON")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(_tegnas_nvcc nvcc HINTS /usr/local/cuda/bin ENV CUDA_PATH PATH_SUFFIXES bin)
    if(_tegnas_nvcc)
      set(CMAKE_CUDA_COMPILER "${_tegnas_nvcc}")
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND NOT CMAKE_CUDA_ARCHITECTURES)
    # Turing, Ampere (A100, consumer), Ada and Hopper (H100/H200) as real code, plus PTX of sm_90
    # that the driver compiles for anything newer (Blackwell).
    set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90)
  endif()
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit QUIET)
    if(CUDAToolkit_FOUND)
      set(TEGNAS_WITH_CUDA ON)
    endif()
  endif()
  if(TEGNAS_WITH_CUDA)
    message(STATUS "tegnas: CUDA backend enabled (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
    add_library(tegnas_cuda STATIC
      native/cuda/kernels.cu
      native/cuda/cuda_libs.cc
      native/cuda/abi_check.cc
      native/cuda/device.cc
      native/cuda/device_net.cc
      native/cuda/cuda_backend.cc)
    set_target_properties(tegnas_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static POSITION_INDEPENDENT_CODE ON)
    target_link_libraries(tegnas_cuda PUBLIC tegnas_engine CUDA::cudart_static ${CMAKE_DL_LIBS})
    string(REPLACE ";" " " _tegnas_archs "${CMAKE_CUDA_ARCHITECTURES}")
    target_compile_definitions(tegnas_cuda PRIVATE
      TEGNAS_CUDA_TOOLKIT_LIBDIR="${CUDAToolkit_LIBRARY_DIR}"
      TEGNAS_CUDA_ARCHS="${_tegnas_archs}")
    if(MSVC)
      target_compile_options(tegnas_cuda PRIVATE $<$<COMPILE_LANGUAGE:CXX>:/O2 /EHsc>)
    else()
      target_compile_options(tegnas_cuda PRIVATE
        $<$<COMPILE_LANGUAGE:CXX>:-O3 -fexceptions -Wall -Wextra -Wno-unused-parameter>
        $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>)
    endif()
    # The real cuBLAS / cuSOLVER headers, where the toolkit has them: abi_check.cc then verifies our
    # declarations against them at compile time.
    find_path(TEGNAS_CUBLAS_INCLUDE cublas_api.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
    find_path(TEGNAS_CUSOLVER_INCLUDE cusolverDn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
    if(TEGNAS_CUDA_ABI_CHECK AND TEGNAS_CUBLAS_INCLUDE AND TEGNAS_CUSOLVER_INCLUDE)
      message(STATUS "tegnas: checking native/cuda/cuda_libs.h against ${TEGNAS_CUBLAS_INCLUDE}/cublas_api.h and cusolverDn.h")
      set_source_files_properties(native/cuda/abi_check.cc PROPERTIES COMPILE_DEFINITIONS TEGNAS_HAVE_CUDA_MATH_HEADERS=1)
    else()
      message(STATUS "tegnas: no cuBLAS/cuSOLVER headers (or TEGNAS_CUDA_ABI_CHECK=OFF): cuda_libs.h is not checked against them")
    endif()
  elseif(TEGNAS_CUDA STREQUAL "ON")
    message(FATAL_ERROR "tegnas: TEGNAS_CUDA=ON but no working nvcc / CUDA toolkit was found")
  else()
    message(STATUS "tegnas: nvcc not found, building the CPU backend only")
  endif()
else()
  message(FATAL_ERROR "tegnas: TEGNAS_CUDA must be AUTO, ON or OFF, got '${TEGNAS_CUDA}'")
endif()
