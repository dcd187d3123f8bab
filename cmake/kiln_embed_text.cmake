# Embeds a text file in C++ as a raw string literal (an .inc file holding only the
# literal), so generated kernels can carry the very headers the library is built with.
#
#   kiln_embed_text(kiln ${PROJECT_SOURCE_DIR}/codegen/kernel_math.h codegen/kernel_math.inc)
#   const char kText[] =
#   #include "codegen/kernel_math.inc"
#       ;
#
# The .inc file is written to <build>/generated/<path> at build time and rewritten when
# the source file changes. `#pragma once` lines are dropped: the text is pasted into a
# main file, where the pragma only draws a warning.
#
# Run as a script (cmake -DINPUT=... -DOUTPUT=... -P kiln_embed_text.cmake), this file
# does the conversion itself.
if(CMAKE_SCRIPT_MODE_FILE)
  set(delimiter "kiln_embed")
  file(READ "${INPUT}" text)
  string(FIND "${text}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains the raw string delimiter )${delimiter}\"")
  endif()
  string(REGEX REPLACE "#pragma once\n" "" text "${text}")
  file(WRITE "${OUTPUT}" "R\"${delimiter}(${text})${delimiter}\"\n")
  return()
endif()

set(KILN_EMBED_TEXT_SCRIPT ${CMAKE_CURRENT_LIST_FILE})

# Adds <build>/generated/<output> (from `input`) to `target`, with <build>/generated on
# its private include path.
function(kiln_embed_text target input output)
  set(out ${PROJECT_BINARY_DIR}/generated/${output})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${out} -P ${KILN_EMBED_TEXT_SCRIPT}
    DEPENDS ${input} ${KILN_EMBED_TEXT_SCRIPT}
    COMMENT "Embedding ${output}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
  target_include_directories(${target} PRIVATE ${PROJECT_BINARY_DIR}/generated)
endfunction()
