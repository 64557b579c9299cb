// GetPerson's raw request: the bytes a client sent, as the handler parses them
// (server::ParseRaw, then the name), split into slices the way gRPC may hand
// them over.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/raw.h"
#include "services/people/convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::people::v1::GetPersonRequest req;
  if (!sightline::fuzz::ParseRawRequest(data, size, &req)) return 0;
  auto id = sightline::people::ParsePersonName(req.name(), "name");
  if (id.ok() && req.name() != "people/" + *id) __builtin_trap();
  return 0;
}
