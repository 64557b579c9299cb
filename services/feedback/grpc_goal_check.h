#pragma once

// GoalCheck over the goals service's gRPC API.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/cache/ttl_cache.h"
#include "services/feedback/org.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"

namespace sightline::feedback {

// Asks the goals service with the caller's own credentials (never this
// service's token, which reads every goal), so that goals' visibility rules
// decide.
class GrpcGoalCheck : public GoalCheck {
 public:
  GrpcGoalCheck(std::shared_ptr<grpc::Channel> channel, absl::Duration ttl,
                absl::Duration timeout);
  absl::Status Check(const Caller& caller, const std::string& goal_id,
                     const std::string& key_result,
                     const std::string& field) override;

 private:
  std::unique_ptr<goals::v1::GoalService::Stub> stub_;
  absl::Duration timeout_;
  // (caller's pseudonym, goal id) -> names of the key results the caller
  // reads; absent when the caller may not read the goal.
  cache::TtlCache<std::optional<std::vector<std::string>>> goals_;
};

}  // namespace sightline::feedback
