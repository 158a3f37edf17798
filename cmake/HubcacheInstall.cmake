# `cmake --install build --prefix P`: the static module libraries, the public headers
# (include/hubcache/** and the generated hubcache/version.hpp; never src/**), the CMake package
# (find_package(hubcache) -> hubcache::hubcache, or one module: hubcache::cache, ...) and
# lib/pkgconfig/hubcache.pc. The CLI installs its binaries itself (apps/cli).
include(CMakePackageConfigHelpers)

get_property(hubcache_modules GLOBAL PROPERTY HUBCACHE_MODULES)
install(TARGETS ${hubcache_modules} hubcache EXPORT hubcacheTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/hubcache DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/generated/hubcache/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hubcache)
# The documents the headers' contracts point to (docs/hub-protocol.md, docs/cache-format.md, ...).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

set(hubcache_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/hubcache)
install(EXPORT hubcacheTargets NAMESPACE hubcache:: DESTINATION ${hubcache_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hubcacheConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/hubcacheConfig.cmake INSTALL_DESTINATION ${hubcache_cmake_dir})
# 0.x: a new minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/hubcacheConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/hubcacheConfig.cmake
  ${PROJECT_BINARY_DIR}/package/hubcacheConfigVersion.cmake DESTINATION ${hubcache_cmake_dir})

# hubcache.pc: every module archive, dependents before their dependencies (the order a static
# link needs: modules are declared lowest first, so the reverse of that order), then what they
# use. The archives are static, so the libraries they use are needed by every link: they are in
# Requires/Libs, not the .private fields (a plain `pkg-config --libs` links; `--static` adds
# those libraries' own dependencies, for a fully static link).
set(hubcache_pc_libs)
set(hubcache_link_order ${hubcache_modules})
list(REVERSE hubcache_link_order)
foreach(m IN LISTS hubcache_link_order)
  string(APPEND hubcache_pc_libs " -l${m}")
endforeach()
if(HUBCACHE_SANITIZE_FLAGS)
  list(JOIN HUBCACHE_SANITIZE_FLAGS " " hubcache_pc_sanitize)
  string(APPEND hubcache_pc_libs " ${hubcache_pc_sanitize}")
endif()
# Relocatable: the prefix is found from the .pc file's own place (`cmake --install --prefix P`
# picks the prefix after configuring), unless the directories were given as absolute paths.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(hubcache_pc_prefix "${CMAKE_INSTALL_PREFIX}")
  set(hubcache_pc_libdir "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(hubcache_pc_includedir "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH hubcache_pc_up /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
  string(REGEX REPLACE "/$" "" hubcache_pc_up "${hubcache_pc_up}")
  set(hubcache_pc_prefix "\${pcfiledir}/${hubcache_pc_up}")
  set(hubcache_pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(hubcache_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# The libraries the modules use (their LIBS) are listed twice, by hand: Requires in
# cmake/hubcache.pc.in and find_dependency() in cmake/hubcacheConfig.cmake.in. A new one goes in both.
configure_file(${PROJECT_SOURCE_DIR}/cmake/hubcache.pc.in ${PROJECT_BINARY_DIR}/package/hubcache.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/hubcache.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
