#pragma once

// Feeds fuzz input to server::ParseRaw as a grpc::ByteBuffer. The first byte
// chooses where the bytes are cut into slices (gRPC hands over a message in
// one slice or several).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "lib/server/api.h"

namespace sightline::fuzz {

inline bool ParseRawRequest(const uint8_t* data, size_t size,
                            google::protobuf::MessageLite* m) {
  if (size == 0) return false;
  size_t cuts = data[0] % 4;
  ++data;
  --size;
  std::vector<grpc::Slice> slices;
  size_t step = cuts == 0 ? size : size / (cuts + 1) + 1;
  for (size_t at = 0; at < size || slices.empty(); at += step) {
    size_t n = at + step > size ? size - at : step;
    slices.emplace_back(data + at, n);
    if (n == 0) break;
  }
  grpc::ByteBuffer bytes(slices.data(), slices.size());
  auto st = server::ParseRaw(bytes, m);
  if (!st.ok() && st.code() != absl::StatusCode::kInvalidArgument) {
    __builtin_trap();  // a message that arrived is never "cut off"
  }
  return st.ok();
}

}  // namespace sightline::fuzz
