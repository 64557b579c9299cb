// GoalsHandler: revision history, alignment trees, lineage and the WatchGoals
// change feed.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/goals/codec.h"
#include "services/goals/goals_handler.h"
#include "services/goals/handler_internal.h"
#include "services/goals/repository.h"

namespace sightline::goals {

using internal::kCycleShape;
using internal::Micros;
using server::FailedWriter;
using server::FinishPage;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;
using server::StartPage;

namespace {

constexpr int kMaxNodesPerChunk = 1000;

// Computes an alignment tree on a worker, then writes it chunk by chunk.
class TreeWriter : public grpc::ServerWriteReactor<v1::AlignmentTreeChunk> {
 public:
  TreeWriter(server::Runtime* runtime, GoalsService* service, Caller caller,
             TreeRoot root, int depth)
      : runtime_(runtime),
        service_(service),
        caller_(std::move(caller)),
        root_(std::move(root)),
        depth_(depth) {
    absl::MutexLock lock(&mu_);
    ++refs_;
    if (!runtime_->executor().TrySubmit([this] { Compute(); })) {
      --refs_;
      FinishLocked(server::Runtime::Overloaded());
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    chunks_[next_ - 1].Clear();  // written: no need to hold it any longer
    if (!ok) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by client"));
  }

  void OnDone() override { Unref(); }

 private:
  void Compute() {
    bool finished;
    {
      absl::MutexLock lock(&mu_);
      finished = finished_;
    }
    if (!finished) {
      auto nodes = service_->AlignmentTree(caller_, root_, depth_);
      std::vector<v1::AlignmentTreeChunk> chunks;
      if (nodes.ok()) chunks = ChunkNodes(*nodes, kMaxNodesPerChunk);
      absl::MutexLock lock(&mu_);
      if (!nodes.ok()) {
        if (!finished_) FinishLocked(runtime_->Finish(nodes.status()));
      } else {
        chunks_ = std::move(chunks);
        PumpLocked();
      }
    }
    Unref();
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    if (next_ < chunks_.size()) {
      writing_ = true;
      StartWrite(&chunks_[next_++]);
      return;
    }
    FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  void Unref() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  server::Runtime* runtime_;
  GoalsService* service_;
  const Caller caller_;
  const TreeRoot root_;
  const int depth_;
  absl::Mutex mu_;
  int refs_ ABSL_GUARDED_BY(mu_) = 1;  // gRPC's, dropped in OnDone
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<v1::AlignmentTreeChunk> chunks_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::vector<v1::AlignmentTreeChunk> ChunkNodes(
    const std::vector<TreeNode>& nodes, int max_nodes) {
  std::vector<v1::AlignmentTreeChunk> chunks;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i % static_cast<size_t>(max_nodes) == 0) chunks.emplace_back();
    ToProto(nodes[i], chunks.back().add_nodes());
  }
  return chunks;
}

absl::StatusOr<std::optional<v1::WatchGoalsResponse>> RenderChange(
    GoalsService& service, const Caller& caller, const storage::ChangeRow& row,
    const std::string& resume_token) {
  using Out = std::optional<v1::WatchGoalsResponse>;
  if (!v1::WatchGoalsResponse::ChangeType_IsValid(row.kind) || row.kind == 0) {
    return absl::DataLossError(
        absl::StrCat("change ", row.seq, " has kind ", row.kind));
  }
  v1::WatchGoalsResponse out;
  out.set_change_type(
      static_cast<v1::WatchGoalsResponse::ChangeType>(row.kind));
  *out.mutable_commit_time() = Micros(row.commit_time_micros);
  out.set_resume_token(resume_token);
  // Key results and check-ins are visible with the goal they belong to, as
  // it is now and as it was when they were written (`time`): a replay after
  // a PRIVATE goal was made PUBLIC does not show what was written before.
  auto goal_visible = [&](int64_t time) -> absl::StatusOr<bool> {
    auto goal = service.GoalForWatch(row.scope);
    if (goal.status().code() == absl::StatusCode::kNotFound) return false;
    if (!goal.ok()) return goal.status();
    if (!service.CanSee(caller, *goal)) return false;
    return service.CouldSeeAt(caller, row.scope, time);
  };
  if (row.entity == kGoalEntity) {
    Goal g;
    if (!Decode(row.payload, &g)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    if (!service.CanSee(caller, g)) return Out();
    ToProto(service.View(g), service.Etag(g), out.mutable_goal());
  } else if (row.entity == kKeyResultEntity) {
    KeyResult k;
    if (!Decode(row.payload, &k)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    auto visible = goal_visible(k.update_time);
    if (!visible.ok()) return visible.status();
    if (!*visible) return Out();
    ToProto(k, service.Etag(k), out.mutable_key_result());
  } else if (row.entity == kCheckInEntity) {
    CheckIn c;
    if (!Decode(row.payload, &c)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    auto visible = goal_visible(c.create_time);
    if (!visible.ok()) return visible.status();
    if (!*visible) return Out();
    ToProto(c, out.mutable_check_in());
  } else if (row.entity == kCycleEntity) {
    Cycle c;
    if (!Decode(row.payload, &c)) {
      return absl::DataLossError(absl::StrCat("change ", row.seq, ": payload"));
    }
    ToProto(c, service.Etag(c), out.mutable_cycle());
  } else {
    return Out();
  }
  return Out(std::move(out));
}

grpc::ServerUnaryReactor* GoalsHandler::ListGoalRevisions(
    grpc::CallbackServerContext* ctx, const v1::ListGoalRevisionsRequest* req,
    v1::ListGoalRevisionsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto paging = StartPage(runtime_->tokens(), "ListGoalRevisions", *id,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto revisions = service_->ListRevisions(*caller, *id, paging->page);
        if (!revisions.ok()) return revisions.status();
        resp->set_next_page_token(FinishPage(
            runtime_->tokens(), "ListGoalRevisions", *id, *paging, &*revisions,
            [](const Revision& r) { return absl::StrCat(r.revision); }));
        for (const auto& r : *revisions) ToProto(r, resp->add_revisions());
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::AlignmentTreeChunk>*
GoalsHandler::GetAlignmentTree(grpc::CallbackServerContext* ctx,
                               const v1::GetAlignmentTreeRequest* req) {
  using Failed = FailedWriter<v1::AlignmentTreeChunk>;
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  status::FieldErrors errors;
  TreeRoot root;
  switch (req->root_case()) {
    case v1::GetAlignmentTreeRequest::kGoal:
      root.kind = TreeRoot::Kind::kGoal;
      root.id = IdOf(req->goal(), kGoalShape, "goal", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kTeam:
      root.kind = TreeRoot::Kind::kTeam;
      root.id = IdOf(req->team(), kTeamShape, "team", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kPerson:
      root.kind = TreeRoot::Kind::kPerson;
      root.id = IdOf(req->person(), kPersonShape, "person", &errors);
      break;
    case v1::GetAlignmentTreeRequest::kCompany:
      root.kind = TreeRoot::Kind::kCompany;
      if (!req->company()) errors.Add("company", "must be true when set");
      break;
    default:
      errors.Add("root", "set goal, team, person or company");
  }
  if (req->root_case() != v1::GetAlignmentTreeRequest::ROOT_NOT_SET &&
      root.kind != TreeRoot::Kind::kGoal && req->cycle().empty()) {
    errors.Add("cycle", "required with team, person and company");
  } else {
    root.cycle_id = OptionalIdOf(req->cycle(), kCycleShape, "cycle", &errors);
  }
  if (!errors.empty()) return new Failed(status::ToGrpc(errors.Build()));
  auto caller = resolve_(*principal, /*fresh=*/false);
  if (!caller.ok()) return new Failed(runtime_->Finish(caller.status()));
  return new TreeWriter(runtime_, service_, std::move(*caller), std::move(root),
                        req->depth());
}

grpc::ServerUnaryReactor* GoalsHandler::GetGoalLineage(
    grpc::CallbackServerContext* ctx, const v1::GetGoalLineageRequest* req,
    v1::GetGoalLineageResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto nodes = service_->Lineage(*caller, *id);
        if (!nodes.ok()) return nodes.status();
        for (const auto& n : *nodes) ToProto(n, resp->add_nodes());
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::WatchGoalsResponse>* GoalsHandler::WatchGoals(
    grpc::CallbackServerContext* ctx, const v1::WatchGoalsRequest* req) {
  using Failed = FailedWriter<v1::WatchGoalsResponse>;
  // The caller is resolved once; the stream authenticates the call itself.
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  auto caller = resolve_(*principal, /*fresh=*/false);
  if (!caller.ok()) return new Failed(runtime_->Finish(caller.status()));
  GoalsService* service = service_;
  auto render = [service, caller = std::move(*caller)](
                    const storage::ChangeRow& row, const std::string& token) {
    return RenderChange(*service, caller, row, token);
  };
  return server::ChangeStream<v1::WatchGoalsResponse>::Start(
      watch_, ctx, req->resume_token(), render);
}

}  // namespace sightline::goals
