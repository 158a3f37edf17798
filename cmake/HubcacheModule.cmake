# hubcache_module(NAME <m> SOURCES ... DEPS <modules> LIBS <external targets>)
#
# Creates the static target hubcache_<m> (alias and exported name hubcache::<m>). Its headers live
# in include/hubcache/<m>/. The target sees only a generated include tree holding itself and the
# modules it declares (transitively), so an #include that points the wrong way fails to compile.
# Installed (cmake/HubcacheInstall.cmake), it sees the whole include/ tree instead, and the
# project's own settings (hubcache_settings: warnings, -Werror) stay behind: they are build-only.
function(hubcache_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;LIBS" ${ARGN})
  set(closure ${M_NAME})
  foreach(dep IN LISTS M_DEPS)
    get_property(dep_closure GLOBAL PROPERTY HUBCACHE_CLOSURE_${dep})
    list(APPEND closure ${dep} ${dep_closure})
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY HUBCACHE_CLOSURE_${M_NAME} ${closure})

  set(tree ${CMAKE_BINARY_DIR}/module-include/${M_NAME})
  file(MAKE_DIRECTORY ${tree}/hubcache)
  foreach(m IN LISTS closure)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/hubcache/${m} ${tree}/hubcache/${m} SYMBOLIC)
  endforeach()

  add_library(hubcache_${M_NAME} STATIC ${M_SOURCES})
  add_library(hubcache::${M_NAME} ALIAS hubcache_${M_NAME})
  set_target_properties(hubcache_${M_NAME} PROPERTIES EXPORT_NAME ${M_NAME})
  set_property(GLOBAL APPEND PROPERTY HUBCACHE_MODULES hubcache_${M_NAME})
  target_include_directories(hubcache_${M_NAME}
    PUBLIC $<BUILD_INTERFACE:${tree}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  set(dep_targets)
  foreach(dep IN LISTS M_DEPS)
    list(APPEND dep_targets hubcache_${dep})
  endforeach()
  target_link_libraries(hubcache_${M_NAME} PUBLIC ${dep_targets} PRIVATE $<BUILD_INTERFACE:hubcache_settings> ${M_LIBS})
  if(HUBCACHE_SANITIZE_FLAGS)
    # Instrumented archives need the sanitizer runtimes wherever they are linked.
    target_link_options(hubcache_${M_NAME} INTERFACE $<INSTALL_INTERFACE:${HUBCACHE_SANITIZE_FLAGS}>)
  endif()
endfunction()
