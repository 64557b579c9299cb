#pragma once

// ScorecardSources over the goals and feedback services' gRPC APIs. Each call
// carries the scorecard caller's own `authorization` metadata (never this
// service's token), so that goals' visibility rules and feedback's anonymity
// floor decide what the scorecard counts.

#include <memory>

#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "services/metrics/scorecard.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"

namespace sightline::metrics {

class GrpcScorecardSources : public ScorecardSources {
 public:
  // A null channel leaves its part MISSING (the service is not configured).
  GrpcScorecardSources(std::shared_ptr<grpc::Channel> goals,
                       std::shared_ptr<grpc::Channel> feedback,
                       absl::Duration call_timeout = absl::Seconds(5));

  absl::StatusOr<GoalsInput> Goals(const OnBehalf& who,
                                   const ScorecardSubject& subject) override;
  absl::StatusOr<FeedbackInput> Feedback(const OnBehalf& who,
                                         const ScorecardSubject& subject,
                                         const std::string& start_date,
                                         const std::string& end_date) override;

 private:
  std::unique_ptr<goals::v1::GoalService::Stub> goals_;
  std::unique_ptr<feedback::v1::FeedbackService::Stub> feedback_;
  absl::Duration call_timeout_;
};

}  // namespace sightline::metrics
