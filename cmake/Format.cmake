# `format`: rewrites every C++ file of the project in the style of .clang-format.
# `FormatCheck` (a test): fails, naming each file and line, where one differs. Output differs
# between clang-format versions, so the test exists only with the version the style was applied
# with (Debian bookworm's clang-format 14); the target works with any.
find_program(HUBCACHE_CLANG_FORMAT NAMES clang-format-14 clang-format)
if(NOT HUBCACHE_CLANG_FORMAT)
  return()
endif()
file(GLOB_RECURSE hubcache_format_files CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/include/*.hpp ${PROJECT_SOURCE_DIR}/src/*.cpp ${PROJECT_SOURCE_DIR}/src/*.hpp
  ${PROJECT_SOURCE_DIR}/apps/*.cpp ${PROJECT_SOURCE_DIR}/apps/*.hpp ${PROJECT_SOURCE_DIR}/tests/*.cpp
  ${PROJECT_SOURCE_DIR}/tests/*.hpp ${PROJECT_SOURCE_DIR}/bench/*.cpp ${PROJECT_SOURCE_DIR}/bench/*.hpp
  ${PROJECT_SOURCE_DIR}/examples/*.cpp ${PROJECT_SOURCE_DIR}/fuzz/*.cpp)
list(FILTER hubcache_format_files EXCLUDE REGEX "/node_modules/")
add_custom_target(format COMMAND ${HUBCACHE_CLANG_FORMAT} -i ${hubcache_format_files}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} COMMENT "clang-format -i on ${PROJECT_SOURCE_DIR}" VERBATIM)
execute_process(COMMAND ${HUBCACHE_CLANG_FORMAT} --version OUTPUT_VARIABLE hubcache_clang_format_version)
if(HUBCACHE_BUILD_TESTS AND hubcache_clang_format_version MATCHES "version 14\\.")
  add_test(NAME FormatCheck COMMAND ${HUBCACHE_CLANG_FORMAT} --dry-run --Werror ${hubcache_format_files}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
