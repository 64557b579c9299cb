#pragma once

// A message as one gRPC length-prefixed frame (uncompressed): the body h2load
// sends, and the size of each answer it counts.

#include <cstdint>
#include <string>

#include "google/protobuf/message_lite.h"

namespace sightline::bench {

inline std::string Frame(const google::protobuf::MessageLite& m) {
  std::string body = m.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string out(5, '\0');
  out[1] = static_cast<char>((n >> 24) & 0xff);
  out[2] = static_cast<char>((n >> 16) & 0xff);
  out[3] = static_cast<char>((n >> 8) & 0xff);
  out[4] = static_cast<char>(n & 0xff);
  return out + body;
}

}  // namespace sightline::bench
