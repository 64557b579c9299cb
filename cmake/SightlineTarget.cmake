# Compile options every project target shares.
function(sightline_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  if(SIGHTLINE_SANITIZE)
    # GCC's flow analysis reports false "maybe uninitialized" warnings inside
    # Abseil containers once sanitizer instrumentation is added.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()

if(SIGHTLINE_SANITIZE)
  # UBSan's vptr check needs the RTTI of every polymorphic type it sees, and
  # Debian's libsoci_core does not export some (ref_counted_statement): that one
  # check is off, the rest of UBSan is on.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined -fno-sanitize=vptr)
endif()

if(SIGHTLINE_FUZZ)
  # Coverage feedback and both sanitizers in every project file; sections per
  # function so that a fuzz target links only the code it reaches, not the
  # rest of the file (fuzz/CMakeLists.txt).
  # (vptr is off for the reason given above.)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize=vptr -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -ffunction-sections -fdata-sections)
  add_link_options(-fsanitize=address,undefined -fno-sanitize=vptr
                   -Wl,--gc-sections -Wl,-z,start-stop-gc)
endif()

# Test sources are compiled without optimization in every build type: they
# were half of the compile time (goals_service_test.cc alone 31 s at -O2, 53 s
# at -O1 with sanitizers, 3x less at -O0), while the libraries and binaries
# they exercise keep the build type's level (header code a test file
# instantiates is compiled there at -O0 too).
function(sightline_test_code target)
  target_compile_options(${target} PRIVATE -O0)
endfunction()

# A unit-test executable registered with ctest (none in the fuzz build).
function(sightline_test name)
  if(SIGHTLINE_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  sightline_target_defaults(${name})
  sightline_test_code(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} sightline::testing GTest::gmock GTest::gtest_main)
  set(props TIMEOUT 300)
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()
