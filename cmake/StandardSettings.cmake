# Project-wide compile settings carried by the INTERFACE target hubcache_settings.
add_library(hubcache_settings INTERFACE)
target_compile_options(hubcache_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion)
if(HUBCACHE_WERROR)
  target_compile_options(hubcache_settings INTERFACE -Werror)
endif()
set(HUBCACHE_SANITIZE_FLAGS -fsanitize=address,undefined)
if(HUBCACHE_SANITIZE)
  target_compile_options(hubcache_settings INTERFACE
    ${HUBCACHE_SANITIZE_FLAGS} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(hubcache_settings INTERFACE ${HUBCACHE_SANITIZE_FLAGS})
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  target_compile_definitions(hubcache_settings INTERFACE _GLIBCXX_ASSERTIONS)
endif()
