# streamsim_library(NAME DIR DEPS...): one static library per top-level folder,
# built from every .cpp in that folder (tests live in tests/ and are not globbed).
# In the installed package the library is streamsim::<NAME without the
# streamsim_ prefix> (streamsim_engine -> streamsim::engine); its public headers
# are include/streamsim/** in the source tree and <prefix>/include once
# installed, and consumers get C++20 with it (the headers need it).
function(streamsim_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;SOURCES" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cpp)
  list(FILTER srcs EXCLUDE REGEX "_test\\.cpp$")
  list(APPEND srcs ${ARG_SOURCES})
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                            $<INSTALL_INTERFACE:include>)
  target_compile_features(${name} PUBLIC cxx_std_20)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  string(REGEX REPLACE "^streamsim_" "" export_name ${name})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${export_name})
endfunction()
