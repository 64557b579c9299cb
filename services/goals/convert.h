#pragma once

// Conversions between the goals API's messages and the domain types: resource
// names, request messages -> domain types, domain types -> API messages. Pure
// functions, exposed for tests.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/goals/goals_service.h"
#include "services/goals/model.h"
#include "sightline/goals/v1/goal_service.pb.h"

namespace sightline::goals {

// Resource names with ids [a-z0-9-]{1,63}; INVALID_ARGUMENT naming `field`
// otherwise.
absl::StatusOr<std::string> ParseCycleName(absl::string_view name,
                                           absl::string_view field);
absl::StatusOr<std::string> ParseGoalName(absl::string_view name,
                                          absl::string_view field);
absl::StatusOr<std::string> ParsePersonName(absl::string_view name,
                                            absl::string_view field);
absl::StatusOr<std::string> ParseTeamName(absl::string_view name,
                                          absl::string_view field);
struct KeyResultName {
  std::string goal_id;
  std::string key_result_id;
};
absl::StatusOr<KeyResultName> ParseKeyResultName(absl::string_view name,
                                                 absl::string_view field);
// `people/{person}` or `teams/{team}`, exactly one.
absl::StatusOr<Owner> ParseOwner(absl::string_view name,
                                 absl::string_view field);
std::string OwnerName(const Owner& owner);

// Request messages -> domain types. Fields are named `<prefix>.<field>`; enum
// values outside the API's enums are INVALID_ARGUMENT, *_UNSPECIFIED passes
// through as 0 (the service applies defaults); output-only fields (name,
// computed values, etag, times) are ignored. With `only`, just the listed
// fields (API names) are read: the paths of an update mask.
absl::StatusOr<Goal> GoalFromProto(
    const v1::Goal& in, absl::string_view prefix,
    const std::vector<std::string>* only = nullptr);
absl::StatusOr<KeyResult> KeyResultFromProto(
    const v1::KeyResult& in, absl::string_view prefix,
    const std::vector<std::string>* only = nullptr);
// Values must name key results of `goal_id`.
absl::StatusOr<CheckIn> CheckInFromProto(const v1::CheckIn& in,
                                         const std::string& goal_id);
absl::StatusOr<Cycle> CycleFromProto(const v1::Cycle& in);
// GetGoalRequest.as_of: nullopt when unset; INVALID_ARGUMENT naming as_of when
// it is not a valid timestamp or lies after `now`.
absl::StatusOr<std::optional<absl::Time>> ParseAsOf(
    const v1::GetGoalRequest& req, absl::Time now);

// Domain types -> API messages. Times of 0 (never) are left unset.
void ToProto(const GoalView& v, absl::string_view etag, v1::Goal* out);
void ToProto(const KeyResult& k, absl::string_view etag, v1::KeyResult* out);
void ToProto(const CheckIn& c, v1::CheckIn* out);
void ToProto(const Cycle& c, absl::string_view etag, v1::Cycle* out);
void ToProto(const Revision& r, v1::GoalRevision* out);
void ToProto(const TreeNode& n, v1::AlignmentNode* out);

}  // namespace sightline::goals
