# Compiler flags shared by every target. Portable baseline ISA so one prebuilt binary runs on any
# x86-64; faster kernels will be chosen at run time, not at compile time.
function(tegnas_apply_flags target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /O2 /EHsc)
  else()
    target_compile_options(${target} PRIVATE -O3 -fexceptions -Wall -Wextra -Wno-unused-parameter)
    if(TEGNAS_SANITIZE)
      target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -O1)
      target_link_options(${target} PRIVATE -fsanitize=address,undefined)
    endif()
  endif()
endfunction()
