# Compile options every project target shares.
function(sightline_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  if(SIGHTLINE_SANITIZE)
    # GCC's flow analysis reports false "maybe uninitialized" warnings inside
    # Abseil containers once sanitizer instrumentation is added.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(TARGET sightline_pch AND NOT target STREQUAL "sightline_pch"
     AND NOT target STREQUAL "sightline_pch_test")
    target_precompile_headers(${target} REUSE_FROM sightline_pch)
    # Same threading macros as the precompiled header (-pthread).
    target_link_libraries(${target} PRIVATE Threads::Threads)
    target_compile_options(${target} PRIVATE -Wno-error=invalid-pch)
  endif()
endfunction()

# Precompiled headers. Every file of the project includes some of the same
# large third-party headers (the standard library, Abseil, protobuf, gRPC,
# and GoogleTest in tests), and parsing them was about a third of each
# file's compile time (gcc -ftime-report, "phase parsing", on
# sql_goal_tx.cc, jwt_test.cc and goals_handler.cc). Two headers are
# precompiled once per build, one for code at the build type's optimization
# level and one for test code at -O0 (a precompiled header is only valid for
# the options it was made with), and every target reuses one of them. A
# target whose options differ anyway gets a warning, not an error, and
# compiles its headers from source.
set(SIGHTLINE_PCH_HEADERS
  <algorithm> <atomic> <chrono> <cstdint> <functional> <map> <memory>
  <optional> <set> <string> <thread> <utility> <vector>
  <absl/container/flat_hash_map.h> <absl/status/status.h>
  <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/string_view.h> <absl/synchronization/mutex.h>
  <absl/time/time.h> <google/protobuf/message.h>
  <google/protobuf/generated_message_reflection.h>
  <google/protobuf/extension_set.h> <google/protobuf/repeated_field.h>
  <grpcpp/grpcpp.h>)

function(sightline_precompiled_headers)
  file(WRITE ${PROJECT_BINARY_DIR}/sightline_pch.cc "")
  foreach(pch sightline_pch sightline_pch_test)
    add_library(${pch} STATIC ${PROJECT_BINARY_DIR}/sightline_pch.cc)
    sightline_target_defaults(${pch})
    target_link_libraries(${pch} PUBLIC Threads::Threads gRPC::grpc++
                                        protobuf::libprotobuf absl::status)
    target_precompile_headers(${pch} PRIVATE ${SIGHTLINE_PCH_HEADERS})
  endforeach()
  sightline_test_code(sightline_pch_test)
  target_link_libraries(sightline_pch_test PUBLIC GTest::gmock GTest::gtest)
  target_precompile_headers(sightline_pch_test PRIVATE <gmock/gmock.h>
                                                       <gtest/gtest.h>)
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
  if(TARGET sightline_pch_test AND NOT target STREQUAL "sightline_pch_test")
    set_property(TARGET ${target} PROPERTY PRECOMPILE_HEADERS_REUSE_FROM
                                           sightline_pch_test)
  endif()
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
