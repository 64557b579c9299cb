// GetGoal's raw request: the bytes a client sent, as the handler parses them
// (server::ParseRaw, the name, then as_of against a fixed "now").

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "fuzz/raw.h"
#include "services/goals/convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::goals::v1::GetGoalRequest req;
  if (!sightline::fuzz::ParseRawRequest(data, size, &req)) return 0;
  auto id = sightline::goals::ParseGoalName(req.name(), "name");
  if (id.ok() && req.name() != "goals/" + *id) __builtin_trap();
  absl::Time now = absl::FromUnixSeconds(1796000000);
  auto as_of = sightline::goals::ParseAsOf(req, now);
  if (as_of.ok() && as_of->has_value() && **as_of > now) __builtin_trap();
  return 0;
}
