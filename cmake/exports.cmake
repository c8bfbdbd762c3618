# The version script of libsyndisco.so: every function include/syndisco.h
# declares, under one version node, and nothing else (llama.cpp, ggml,
# the C++ runtime and our internal helpers stay local). Generated at
# configure time from the header, so the header is the one list of what
# the library exports; editing the header re-runs the configure step.
#   sd_generate_version_script(HEADER OUT)
function(sd_generate_version_script header out)
  file(READ "${header}" text)
  # comments first: their prose names functions ("sd_strerror() names")
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
  string(REGEX REPLACE "//[^\n]*" "" text "${text}")
  # a declaration: the name right before "(", not "(*name)" (a typedef of
  # a function pointer, whose name is followed by ")")
  string(REGEX MATCHALL "[ *\n\t](sd_[a-z0-9_]+)[ \t]*\\(" decls "${text}")
  set(names "")
  foreach(d IN LISTS decls)
    string(REGEX REPLACE "^[ *\n\t](sd_[a-z0-9_]+).*" "\\1" n "${d}")
    list(APPEND names "${n}")
  endforeach()
  list(REMOVE_DUPLICATES names)
  list(SORT names)
  list(LENGTH names count)
  if(count LESS 50)
    message(FATAL_ERROR "exports.cmake found only ${count} functions in ${header}")
  endif()
  set(body "/* generated from include/syndisco.h by cmake/exports.cmake */\nSYNDISCO_0 {\n  global:\n")
  foreach(n IN LISTS names)
    string(APPEND body "    ${n};\n")
  endforeach()
  string(APPEND body "  local:\n    *;\n};\n")
  file(WRITE "${out}.tmp" "${body}")
  configure_file("${out}.tmp" "${out}" COPYONLY) # touched only on change
  set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY
    CMAKE_CONFIGURE_DEPENDS "${header}")
  message(STATUS "syndisco: libsyndisco.so exports ${count} functions")
endfunction()
