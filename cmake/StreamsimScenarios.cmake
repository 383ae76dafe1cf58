# streamsim_add_scenarios: every scenario file of a directory as a ctest test.
#
#   streamsim_add_scenarios(TARGET <runner> DIR <dir> SEEDS <n>
#                           [FIRST_SEED <s>] [JOBS <j>] [TIMEOUT <seconds>]
#                           [LABELS <label>...] [PREFIX <text>])
#   streamsim_add_scenarios(<runner> <dir> SEEDS <n> ...)      # the same, positional
#
# For each <dir>/*.textproto (sorted, not recursive) it adds the test
# "<PREFIX><file name without .textproto>" that runs
#   $<TARGET_FILE:<runner>> sweep <file> --seeds <n> [--first-seed <s>] [--jobs <j>]
# and passes when the sweep exits 0: every safe scenario held on every seed and
# every canary (expect { expect_violation: ... }) was caught on some seed. A
# failure prints the seed, the property and the replay command (through the
# same runner), which ctest --output-on-failure shows.
#
# <runner> is an executable target that knows the scenarios' pipelines: the
# user's own runner (their pipeline registrations plus streamsim::cli_main,
# docs/library.md), or streamsim::streamsim (in-tree: streamsim) when the
# scenarios use only built-in pipelines. Without TARGET, streamsim::streamsim
# (or the in-tree streamsim) is used. Relative directories are taken from the
# calling CMakeLists.txt's directory. Defaults: LABELS scenarios, TIMEOUT 300,
# PREFIX "scenario: ", no --jobs (one process), first seed 1.
# Adding or removing a scenario file re-runs CMake (CONFIGURE_DEPENDS).
function(streamsim_add_scenarios)
  set(one TARGET DIR SEEDS FIRST_SEED JOBS TIMEOUT PREFIX)
  if(ARGC GREATER 1 AND NOT "${ARGV0}" STREQUAL "TARGET")
    # Positional form: the runner and the directory come first.
    set(args ${ARGN})
    list(POP_FRONT args positional_target positional_dir)
    cmake_parse_arguments(ARG "" "${one}" "LABELS" ${args})
    set(ARG_TARGET ${positional_target})
    set(ARG_DIR ${positional_dir})
  else()
    cmake_parse_arguments(ARG "" "${one}" "LABELS" ${ARGN})
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "streamsim_add_scenarios: unexpected arguments '${ARG_UNPARSED_ARGUMENTS}'")
  endif()
  if(NOT ARG_TARGET)
    if(TARGET streamsim::streamsim)
      set(ARG_TARGET streamsim::streamsim)
    elseif(TARGET streamsim)
      set(ARG_TARGET streamsim)
    else()
      message(FATAL_ERROR "streamsim_add_scenarios: no TARGET given and no streamsim executable target exists")
    endif()
  endif()
  if(NOT TARGET ${ARG_TARGET})
    message(FATAL_ERROR "streamsim_add_scenarios: TARGET '${ARG_TARGET}' is not a target (define the runner "
                        "executable before calling it)")
  endif()
  get_target_property(type ${ARG_TARGET} TYPE)
  if(NOT type STREQUAL "EXECUTABLE")
    message(FATAL_ERROR "streamsim_add_scenarios: TARGET '${ARG_TARGET}' is a ${type}, not an executable")
  endif()
  if(NOT ARG_DIR)
    message(FATAL_ERROR "streamsim_add_scenarios: DIR is required")
  endif()
  if(NOT DEFINED ARG_SEEDS OR NOT ARG_SEEDS MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "streamsim_add_scenarios: SEEDS must be a positive integer (got '${ARG_SEEDS}')")
  endif()
  foreach(opt FIRST_SEED JOBS TIMEOUT)
    if(DEFINED ARG_${opt} AND NOT ARG_${opt} MATCHES "^[0-9]+$")
      message(FATAL_ERROR "streamsim_add_scenarios: ${opt} must be a non-negative integer (got '${ARG_${opt}}')")
    endif()
  endforeach()
  if(NOT DEFINED ARG_PREFIX)
    set(ARG_PREFIX "scenario: ")
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS scenarios)
  endif()
  if(NOT DEFINED ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()

  get_filename_component(dir "${ARG_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT IS_DIRECTORY "${dir}")
    message(FATAL_ERROR "streamsim_add_scenarios: DIR '${dir}' is not a directory")
  endif()
  file(GLOB files CONFIGURE_DEPENDS "${dir}/*.textproto")
  list(SORT files)
  if(NOT files)
    message(FATAL_ERROR "streamsim_add_scenarios: no *.textproto scenario files in '${dir}'")
  endif()

  set(extra)
  if(DEFINED ARG_FIRST_SEED)
    list(APPEND extra --first-seed ${ARG_FIRST_SEED})
  endif()
  if(DEFINED ARG_JOBS)
    list(APPEND extra --jobs ${ARG_JOBS})
  endif()
  foreach(file IN LISTS files)
    get_filename_component(stem "${file}" NAME_WLE)
    set(name "${ARG_PREFIX}${stem}")
    add_test(NAME "${name}"
             COMMAND $<TARGET_FILE:${ARG_TARGET}> sweep "${file}" --seeds ${ARG_SEEDS} ${extra}
             WORKING_DIRECTORY "${dir}")
    set_tests_properties("${name}" PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  endforeach()
endfunction()
