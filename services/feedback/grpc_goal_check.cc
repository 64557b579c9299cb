#include "services/feedback/grpc_goal_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "lib/status/status.h"

namespace sightline::feedback {

GrpcGoalCheck::GrpcGoalCheck(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration ttl, absl::Duration timeout)
    : stub_(goals::v1::GoalService::NewStub(channel)),
      timeout_(timeout),
      goals_(ttl) {}

absl::Status GrpcGoalCheck::Check(const Caller& caller,
                                  const std::string& goal_id,
                                  const std::string& key_result,
                                  const std::string& field) {
  if (caller.authorization.empty() || caller.key.empty()) {
    // Every call but health and reflection carries a verified token.
    return absl::InternalError("goal check without the caller's credentials");
  }
  std::string goal = absl::StrCat("goals/", goal_id);
  std::string cache_key = absl::StrCat(caller.key, "/", goal_id);
  auto known = goals_.Get(cache_key);
  if (!known.has_value()) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", caller.authorization);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    goals::v1::ListKeyResultsRequest req;
    req.set_parent(goal);
    goals::v1::ListKeyResultsResponse resp;
    grpc::Status s = stub_->ListKeyResults(&ctx, req, &resp);
    // Goals answers NOT_FOUND for a goal the caller may not read, as for a
    // missing one; PERMISSION_DENIED is taken the same way.
    if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
        s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      known.emplace(std::nullopt);
    } else if (!s.ok()) {
      return status::FromDependency("goals", s);
    } else {
      known.emplace(std::vector<std::string>());
      for (const auto& kr : resp.key_results()) (*known)->push_back(kr.name());
    }
    goals_.Put(cache_key, *known);
  }
  // Without the goal's name, so that the answer is the same byte for byte
  // whichever goal it is about.
  if (!known->has_value()) return status::InvalidField(field, "does not exist");
  const std::vector<std::string>& key_results = **known;
  if (!key_result.empty() && std::find(key_results.begin(), key_results.end(),
                                       key_result) == key_results.end()) {
    return status::InvalidField(
        "feedback.key_result",
        absl::StrCat(key_result, " is not a key result of ", goal));
  }
  return absl::OkStatus();
}

}  // namespace sightline::feedback
