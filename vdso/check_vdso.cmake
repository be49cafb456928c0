# Checks the vDSO image and writes it out as a C++ source.
#
#   cmake -DREADELF=readelf -DIMAGE=vdso.so -DOUTPUT=vdso_image.cpp -P check_vdso.cmake
#
# The image is mapped as it is, with no loader: it must be an x86-64 ET_DYN
# with one PT_LOAD (read and execute only), no relocations at all (nothing
# could apply them), no DT_NEEDED or TEXTREL, both hash tables (musl reads
# DT_HASH, glibc prefers DT_GNU_HASH), the version LINUX_2.6, and every name
# libc looks up. A failure stops the build with the reason.

foreach(v READELF IMAGE OUTPUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_vdso.cmake: ${v} is not set")
  endif()
endforeach()

function(readelf out)
  execute_process(COMMAND ${READELF} ${ARGN} ${IMAGE} OUTPUT_VARIABLE text ERROR_VARIABLE err
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "vDSO check: readelf ${ARGN} failed: ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(require text regex what)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "vDSO check: ${IMAGE}: ${what}")
  endif()
endfunction()

function(forbid text regex what)
  if(text MATCHES "${regex}")
    message(FATAL_ERROR "vDSO check: ${IMAGE}: ${what}")
  endif()
endfunction()

readelf(header -hW)
require("${header}" "Type:[ \t]+DYN" "not an ELF shared object (ET_DYN)")
require("${header}" "Machine:[ \t]+Advanced Micro Devices X86-64" "not x86-64")

readelf(relocs -rW)
require("${relocs}" "There are no relocations in this file" "has relocations:\n${relocs}")

readelf(segments -lW)
string(REGEX MATCHALL "\n[ \t]+LOAD[ \t]" loads "${segments}")
list(LENGTH loads load_count)
if(NOT load_count EQUAL 1)
  message(FATAL_ERROR "vDSO check: ${IMAGE}: ${load_count} PT_LOAD segments, want one:\n${segments}")
endif()
require("${segments}" "\n[ \t]+LOAD[ \t][^\n]* R E " "its PT_LOAD is not exactly read + execute")
require("${segments}" "\n[ \t]+DYNAMIC[ \t]" "no PT_DYNAMIC")

readelf(dynamic -dW)
require("${dynamic}" "\\(HASH\\)" "no DT_HASH")
require("${dynamic}" "\\(GNU_HASH\\)" "no DT_GNU_HASH")
require("${dynamic}" "\\(VERDEF\\)" "no DT_VERDEF")
require("${dynamic}" "\\(VERSYM\\)" "no DT_VERSYM")
forbid("${dynamic}" "\\((NEEDED|TEXTREL|RELA|REL|JMPREL|INIT|FINI)\\)" "needs a loader:\n${dynamic}")

readelf(symbols --dyn-syms -W)
foreach(name clock_gettime gettimeofday time clock_getres)
  require("${symbols}" " FUNC +GLOBAL +DEFAULT +[0-9]+ __vdso_${name}@@LINUX_2.6\n"
          "does not export __vdso_${name}@@LINUX_2.6")
  require("${symbols}" " FUNC +WEAK +DEFAULT +[0-9]+ ${name}@@LINUX_2.6\n"
          "does not export the weak alias ${name}@@LINUX_2.6")
endforeach()
forbid("${symbols}" " UND [^\n]*[A-Za-z_]" "has undefined symbols:\n${symbols}")

# The bytes, as a C++ array the vkernel links (vkernel/vdso.cpp).
file(READ ${IMAGE} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp
  "// Generated from ${IMAGE} by vdso/check_vdso.cmake: do not edit.\n"
  "extern \"C\" const unsigned char vk_vdso_image_bytes[${size}];\n"
  "extern \"C\" const unsigned long vk_vdso_image_size;\n"
  "const unsigned char vk_vdso_image_bytes[${size}] = {\n    ${bytes}\n};\n"
  "const unsigned long vk_vdso_image_size = ${size};\n")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
