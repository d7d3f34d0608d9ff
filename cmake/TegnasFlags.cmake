# Compiler flags shared by every target. Portable baseline ISA so one prebuilt binary runs on any
# x86-64; faster kernels will be chosen at run time, not at compile time.
function(tegnas_apply_flags target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /O2 /EHsc)
  else()
    target_compile_options(${target} PRIVATE -O3 -fexceptions -Wall -Wextra -Wno-unused-parameter)
    if(TEGNAS_SANITIZE)
      # Every report is fatal (UBSan would otherwise print and go on); -g for symbolized stacks.
      target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
                             -fno-omit-frame-pointer -O1 -g)
      target_link_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all)
    endif()
  endif()
endfunction()
