#pragma once

// The gRPC face of the goals service: validates requests, converts between
// protos and domain types, resolves the caller and maps statuses. All rules
// live in GoalsService; this is the only goals code that sees protos.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/auth/principal.h"
#include "lib/server/change_stream.h"
#include "lib/server/runtime.h"
#include "lib/storage/change_log.h"
#include "services/goals/access.h"
#include "services/goals/convert.h"
#include "services/goals/goals_service.h"
#include "services/goals/model.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"

namespace sightline::goals {

// GetGoal is a raw method (bytes in, bytes out): see GetGoal.
class GoalsHandler : public v1::GoalService::WithRawCallbackMethod_GetGoal<
                         v1::GoalService::CallbackService> {
 public:
  // Resolves the verified principal to a Caller. `fresh` is for writes (may
  // ask the people service, so it can fail with UNAVAILABLE); a non-fresh
  // resolution never blocks.
  using ResolveCaller = std::function<absl::StatusOr<Caller>(
      const auth::Principal& principal, bool fresh)>;

  GoalsHandler(server::Runtime* runtime, GoalsService* service,
               ResolveCaller resolve, server::ChangeStreamDeps watch);

  grpc::ServerUnaryReactor* CreateCycle(grpc::CallbackServerContext* ctx,
                                        const v1::CreateCycleRequest* req,
                                        v1::Cycle* resp) override;
  grpc::ServerUnaryReactor* GetCycle(grpc::CallbackServerContext* ctx,
                                     const v1::GetCycleRequest* req,
                                     v1::Cycle* resp) override;
  grpc::ServerUnaryReactor* ListCycles(grpc::CallbackServerContext* ctx,
                                       const v1::ListCyclesRequest* req,
                                       v1::ListCyclesResponse* resp) override;
  grpc::ServerUnaryReactor* CloseCycle(grpc::CallbackServerContext* ctx,
                                       const v1::CloseCycleRequest* req,
                                       v1::Cycle* resp) override;

  grpc::ServerUnaryReactor* CreateGoal(grpc::CallbackServerContext* ctx,
                                       const v1::CreateGoalRequest* req,
                                       v1::Goal* resp) override;
  grpc::ServerUnaryReactor* BatchCreateGoals(
      grpc::CallbackServerContext* ctx, const v1::BatchCreateGoalsRequest* req,
      v1::BatchCreateGoalsResponse* resp) override;
  // A sightline.goals.v1.GetGoalRequest in, a Goal out.
  grpc::ServerUnaryReactor* GetGoal(grpc::CallbackServerContext* ctx,
                                    const grpc::ByteBuffer* req,
                                    grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* ListGoals(grpc::CallbackServerContext* ctx,
                                      const v1::ListGoalsRequest* req,
                                      v1::ListGoalsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateGoal(grpc::CallbackServerContext* ctx,
                                       const v1::UpdateGoalRequest* req,
                                       v1::Goal* resp) override;
  grpc::ServerUnaryReactor* DeleteGoal(grpc::CallbackServerContext* ctx,
                                       const v1::DeleteGoalRequest* req,
                                       google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* ApproveGoal(grpc::CallbackServerContext* ctx,
                                        const v1::ApproveGoalRequest* req,
                                        v1::Goal* resp) override;
  grpc::ServerUnaryReactor* ReturnGoal(grpc::CallbackServerContext* ctx,
                                       const v1::ReturnGoalRequest* req,
                                       v1::Goal* resp) override;

  grpc::ServerUnaryReactor* CreateKeyResult(
      grpc::CallbackServerContext* ctx, const v1::CreateKeyResultRequest* req,
      v1::KeyResult* resp) override;
  grpc::ServerUnaryReactor* UpdateKeyResult(
      grpc::CallbackServerContext* ctx, const v1::UpdateKeyResultRequest* req,
      v1::KeyResult* resp) override;
  grpc::ServerUnaryReactor* DeleteKeyResult(
      grpc::CallbackServerContext* ctx, const v1::DeleteKeyResultRequest* req,
      google::protobuf::Empty* resp) override;
  grpc::ServerUnaryReactor* ListKeyResults(
      grpc::CallbackServerContext* ctx, const v1::ListKeyResultsRequest* req,
      v1::ListKeyResultsResponse* resp) override;

  grpc::ServerUnaryReactor* CreateCheckIn(grpc::CallbackServerContext* ctx,
                                          const v1::CreateCheckInRequest* req,
                                          v1::CheckIn* resp) override;
  grpc::ServerUnaryReactor* ListCheckIns(
      grpc::CallbackServerContext* ctx, const v1::ListCheckInsRequest* req,
      v1::ListCheckInsResponse* resp) override;
  grpc::ServerUnaryReactor* ListDueCheckIns(
      grpc::CallbackServerContext* ctx, const v1::ListDueCheckInsRequest* req,
      v1::ListDueCheckInsResponse* resp) override;

  grpc::ServerUnaryReactor* ListGoalRevisions(
      grpc::CallbackServerContext* ctx, const v1::ListGoalRevisionsRequest* req,
      v1::ListGoalRevisionsResponse* resp) override;
  grpc::ServerWriteReactor<v1::AlignmentTreeChunk>* GetAlignmentTree(
      grpc::CallbackServerContext* ctx,
      const v1::GetAlignmentTreeRequest* req) override;
  grpc::ServerUnaryReactor* GetGoalLineage(
      grpc::CallbackServerContext* ctx, const v1::GetGoalLineageRequest* req,
      v1::GetGoalLineageResponse* resp) override;
  grpc::ServerWriteReactor<v1::WatchGoalsResponse>* WatchGoals(
      grpc::CallbackServerContext* ctx,
      const v1::WatchGoalsRequest* req) override;

 private:
  // ApproveGoal and ReturnGoal: one call shape around two decisions.
  template <typename Request>
  grpc::ServerUnaryReactor* Decide(grpc::CallbackServerContext* ctx,
                                   const Request* req, v1::Goal* resp,
                                   bool approve);
  absl::StatusOr<Caller> CallerOf(const server::CallContext& call,
                                  bool fresh) const;
  void Render(const GoalView& v, v1::Goal* out) const;
  void Render(const KeyResult& k, v1::KeyResult* out) const;
  void Render(const Cycle& c, v1::Cycle* out) const;

  server::Runtime* runtime_;
  GoalsService* service_;
  ResolveCaller resolve_;
  server::ChangeStreamDeps watch_;
};

// ---- The stream parts, exposed for tests. -----------------------------------

// Splits nodes into stream chunks of at most `max_nodes`, in order.
std::vector<v1::AlignmentTreeChunk> ChunkNodes(
    const std::vector<TreeNode>& nodes, int max_nodes);

// One change-log row as a WatchGoals message for `caller`, or nullopt when the
// caller may not see it (or the entity is not one the feed carries).
absl::StatusOr<std::optional<v1::WatchGoalsResponse>> RenderChange(
    GoalsService& service, const Caller& caller, const storage::ChangeRow& row,
    const std::string& resume_token);

}  // namespace sightline::goals
