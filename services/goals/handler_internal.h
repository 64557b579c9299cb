#pragma once

// Helpers the files of GoalsHandler share (convert.cc defines them). Not for
// use outside the goals handler.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/goals/model.h"
#include "sightline/goals/v1/goal_service.pb.h"

namespace sightline::goals::internal {

inline constexpr server::Shape kCycleShape{"cycles", "", "cycles/{cycle}"};
inline constexpr server::Shape kKeyResultShape{
    "goals", "keyResults", "goals/{goal}/keyResults/{key_result}"};

Owner OwnerOf(absl::string_view name, absl::string_view field,
              status::FieldErrors* errors);

google::protobuf::Timestamp Micros(int64_t us);

// A request's goal or key result, reading only the fields in `only` when set;
// errors name `<prefix>.<field>`.
Goal ReadGoal(const v1::Goal& in, absl::string_view prefix,
              const std::vector<std::string>* only,
              status::FieldErrors* errors);
KeyResult ReadKeyResult(const v1::KeyResult& in, absl::string_view prefix,
                        const std::vector<std::string>* only,
                        status::FieldErrors* errors);

}  // namespace sightline::goals::internal
