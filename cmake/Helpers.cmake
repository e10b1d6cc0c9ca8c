# rampart_library(NAME SOURCES... DEPS...) : one CMake library per src/ module.
function(rampart_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${RAMPART_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# rampart_test(NAME SOURCES... DEPS...) : a GoogleTest binary, each test registered with CTest.
function(rampart_test name)
  if(NOT RAMPART_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${RAMPART_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    RAMPART_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    RAMPART_RULES_DIR="${RAMPART_SOURCE_RULES_DIR}")
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    PROPERTIES ENVIRONMENT "RAMPART_CACHE_DIR=${RAMPART_TEST_CACHE_DIR}")
endfunction()

# rampart_benchmark(NAME SOURCES... DEPS...) : a Google Benchmark binary under bench/.
function(rampart_benchmark name)
  if(NOT RAMPART_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${RAMPART_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_compile_definitions(${name} PRIVATE RAMPART_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endfunction()

# rampart_fuzzer(NAME SOURCES... DEPS...) : a libFuzzer target with its corpus in fuzz/corpus/NAME.
function(rampart_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${RAMPART_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_property(GLOBAL APPEND PROPERTY RAMPART_FUZZERS ${name})
endfunction()
