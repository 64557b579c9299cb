// The goals service's create and update requests, read and validated as the
// handler and the service do before anything touches the database.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/check.h"
#include "fuzz/inputs.pb.h"
#include "lib/server/api.h"
#include "services/goals/convert.h"
#include "services/goals/rules.h"

namespace {

using namespace sightline::goals;
using sightline::fuzz::Check;
using sightline::fuzz::CheckClientError;

void CheckIdempotency(const google::protobuf::Message& req,
                      const std::string& id) {
  auto idem = sightline::server::IdempotencyOf("Fuzz", "people/p1", req, id);
  CheckClientError(idem.status());
}

void CreateGoal(const v1::Goal& g,
                const google::protobuf::RepeatedPtrField<v1::KeyResult>& krs,
                const std::vector<std::string>* only) {
  auto goal = GoalFromProto(g, "goal", only);
  CheckClientError(goal.status());
  if (goal.ok()) CheckClientError(ValidateGoal(*goal, "goal"));
  for (int i = 0; i < krs.size(); ++i) {
    auto kr = KeyResultFromProto(krs[i], absl::StrCat("key_results[", i, "]"));
    CheckClientError(kr.status());
    if (!kr.ok()) continue;
    ApplyKeyResultDefaults(&*kr);
    CheckClientError(ValidateKeyResult(*kr, "key_results"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::fuzz::GoalsInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  switch (in.request_case()) {
    case sightline::fuzz::GoalsInput::kCreateCycle: {
      const auto& r = in.create_cycle();
      CheckIdempotency(r, r.request_id());
      auto c = CycleFromProto(r.cycle());
      CheckClientError(c.status());
      if (c.ok()) CheckClientError(ValidateCycle(*c));
      break;
    }
    case sightline::fuzz::GoalsInput::kCreateGoal: {
      const auto& r = in.create_goal();
      CheckIdempotency(r, r.request_id());
      CreateGoal(r.goal(), r.key_results(), nullptr);
      break;
    }
    case sightline::fuzz::GoalsInput::kBatchCreateGoals: {
      const auto& r = in.batch_create_goals();
      CheckIdempotency(r, r.request_id());
      CheckClientError(sightline::server::ParseOne(
                           r.team(), sightline::server::kTeamShape, "team")
                           .status());
      CreateGoal(r.template_(), r.key_results(), nullptr);
      break;
    }
    case sightline::fuzz::GoalsInput::kUpdateGoal: {
      const auto& r = in.update_goal();
      std::vector<std::string> mask(r.update_mask().paths().begin(),
                                    r.update_mask().paths().end());
      CheckClientError(ParseGoalName(r.goal().name(), "goal.name").status());
      auto patch = GoalFromProto(r.goal(), "goal", &mask);
      CheckClientError(patch.status());
      CheckClientError(ValidateReason(r.reason(), true));
      break;
    }
    case sightline::fuzz::GoalsInput::kCreateKeyResult: {
      const auto& r = in.create_key_result();
      CheckIdempotency(r, r.request_id());
      CheckClientError(ParseGoalName(r.parent(), "parent").status());
      auto kr = KeyResultFromProto(r.key_result(), "key_result");
      CheckClientError(kr.status());
      if (kr.ok()) {
        ApplyKeyResultDefaults(&*kr);
        CheckClientError(ValidateKeyResult(*kr, "key_result"));
      }
      break;
    }
    case sightline::fuzz::GoalsInput::kUpdateKeyResult: {
      const auto& r = in.update_key_result();
      std::vector<std::string> mask(r.update_mask().paths().begin(),
                                    r.update_mask().paths().end());
      CheckClientError(
          ParseKeyResultName(r.key_result().name(), "key_result.name")
              .status());
      CheckClientError(
          KeyResultFromProto(r.key_result(), "key_result", &mask).status());
      break;
    }
    case sightline::fuzz::GoalsInput::kCreateCheckIn: {
      const auto& r = in.create_check_in();
      CheckIdempotency(r, r.request_id());
      auto goal = ParseGoalName(r.parent(), "parent");
      CheckClientError(goal.status());
      auto c = CheckInFromProto(r.check_in(), goal.ok() ? *goal : "g1");
      CheckClientError(c.status());
      break;
    }
    case sightline::fuzz::GoalsInput::REQUEST_NOT_SET:
      break;
  }
  return 0;
}
