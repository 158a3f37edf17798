# Project-wide compile settings carried by the INTERFACE target hubcache_settings.
add_library(hubcache_settings INTERFACE)
# C++ only: the C and assembly in the build are third-party (BLAKE3, src/xet/CMakeLists.txt).
set(hubcache_warnings -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion)
target_compile_options(hubcache_settings INTERFACE "$<$<COMPILE_LANGUAGE:CXX>:${hubcache_warnings}>")
if(HUBCACHE_WERROR)
  target_compile_options(hubcache_settings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
# HUBCACHE_SANITIZE (CMakeLists.txt): HUBCACHE_SANITIZE_KIND is address, thread or none, and
# HUBCACHE_SANITIZE_FLAGS the flags every link of the instrumented code needs (empty for none).
string(TOLOWER "${HUBCACHE_SANITIZE}" HUBCACHE_SANITIZE_KIND)
if(HUBCACHE_SANITIZE_KIND STREQUAL "thread")
  set(HUBCACHE_SANITIZE_FLAGS -fsanitize=thread)
  set(hubcache_sanitize_compile_only)
elseif(HUBCACHE_SANITIZE_KIND MATCHES "^(address|on|yes|true|y|[1-9][0-9]*)$")
  set(HUBCACHE_SANITIZE_KIND address)
  set(HUBCACHE_SANITIZE_FLAGS -fsanitize=address,undefined)
  set(hubcache_sanitize_compile_only -fno-sanitize-recover=undefined)
elseif(NOT HUBCACHE_SANITIZE)
  set(HUBCACHE_SANITIZE_KIND none)
  set(HUBCACHE_SANITIZE_FLAGS)
else()
  message(FATAL_ERROR "HUBCACHE_SANITIZE=${HUBCACHE_SANITIZE} is not a sanitizer choice: use OFF, "
    "ON or address (ASan + UBSan), or thread (TSan)")
endif()
if(HUBCACHE_SANITIZE_FLAGS)
  target_compile_options(hubcache_settings INTERFACE
    ${HUBCACHE_SANITIZE_FLAGS} -fno-omit-frame-pointer ${hubcache_sanitize_compile_only})
  target_link_options(hubcache_settings INTERFACE ${HUBCACHE_SANITIZE_FLAGS})
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  target_compile_definitions(hubcache_settings INTERFACE _GLIBCXX_ASSERTIONS)
endif()
