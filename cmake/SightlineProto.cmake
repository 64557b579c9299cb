# sightline_proto_library(<target> ROOT <dir> PROTOS <files relative to ROOT>
#                         [GRPC] [DEPS <proto library targets>])
# Generates C++ (and, with GRPC, service stubs) into the build tree and wraps it in a
# static library. Import paths of DEPS are propagated through the property
# SIGHTLINE_PROTO_ROOTS.
function(sightline_proto_library target)
  cmake_parse_arguments(ARG "GRPC" "ROOT" "PROTOS;DEPS" ${ARGN})
  if(SIGHTLINE_FUZZ)
    # The fuzz targets use messages, never service stubs.
    set(ARG_GRPC FALSE)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/gen_${target})
  file(MAKE_DIRECTORY ${out})

  set(roots ${ARG_ROOT})
  foreach(dep IN LISTS ARG_DEPS)
    get_target_property(dep_roots ${dep} SIGHTLINE_PROTO_ROOTS)
    list(APPEND roots ${dep_roots})
  endforeach()
  list(REMOVE_DUPLICATES roots)
  set(include_flags)
  foreach(r IN LISTS roots)
    list(APPEND include_flags -I${r})
  endforeach()
  list(APPEND include_flags -I${Protobuf_INCLUDE_DIR})

  set(srcs)
  set(abs_protos)
  foreach(p IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem ${p})
    list(APPEND srcs ${out}/${stem}.pb.cc ${out}/${stem}.pb.h)
    if(ARG_GRPC)
      list(APPEND srcs ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h)
    endif()
    list(APPEND abs_protos ${ARG_ROOT}/${p})
  endforeach()

  set(grpc_args)
  if(ARG_GRPC)
    set(grpc_args --grpc_out=${out}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
  endif()
  add_custom_command(
    OUTPUT ${srcs}
    COMMAND protobuf::protoc --cpp_out=${out} ${grpc_args} ${include_flags} ${abs_protos}
    DEPENDS ${abs_protos} protobuf::protoc
    COMMENT "protoc ${target}"
    VERBATIM)

  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${target} PUBLIC gRPC::grpc++)
  endif()
  if(SIGHTLINE_FUZZ)
    # Generated code is not what is fuzzed: left uninstrumented, it compiles
    # in a fraction of the time.
    target_compile_options(${target} PRIVATE -fno-sanitize=all -O0 -g0)
  endif()
  set_target_properties(${target} PROPERTIES SIGHTLINE_PROTO_ROOTS "${roots}")
endfunction()
