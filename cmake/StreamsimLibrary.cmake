# streamsim_library(NAME DIR DEPS...): one static library per top-level folder,
# built from every .cpp in that folder (tests live in tests/ and are not globbed).
function(streamsim_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;SOURCES" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cpp)
  list(FILTER srcs EXCLUDE REGEX "_test\\.cpp$")
  list(APPEND srcs ${ARG_SOURCES})
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()
