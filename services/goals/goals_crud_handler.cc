// GoalsHandler: creating, listing, changing, deleting and approving goals.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "services/goals/goals_handler.h"
#include "services/goals/handler_internal.h"

namespace sightline::goals {

using internal::kCycleShape;
using internal::OwnerOf;
using internal::ReadGoal;
using internal::ReadKeyResult;
using server::EnumOf;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;
using server::StartPage;
using server::TokenFor;

namespace {

// The fields a BatchCreateGoals template carries: all but the owner, which is
// set per person.
const std::vector<std::string>& TemplateFields() {
  static const auto* f = new std::vector<std::string>{
      "title",      "description", "contributors",    "stakeholders",
      "level",      "cycle",       "start_date",      "due_date",
      "parent",     "weight",      "progress_source", "kind",
      "hypothesis", "visibility",  "state",           "tags"};
  return *f;
}

}  // namespace

grpc::ServerUnaryReactor* GoalsHandler::CreateGoal(
    grpc::CallbackServerContext* ctx, const v1::CreateGoalRequest* req,
    v1::Goal* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf("CreateGoal", call.principal.subject,
                                          *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        Goal goal = ReadGoal(req->goal(), "goal", nullptr, &errors);
        std::vector<KeyResult> krs;
        for (int i = 0; i < req->key_results_size(); ++i) {
          krs.push_back(ReadKeyResult(req->key_results(i),
                                      absl::StrCat("key_results[", i, "]"),
                                      nullptr, &errors));
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateGoal(*caller, std::move(goal),
                                         std::move(krs), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::BatchCreateGoals(
    grpc::CallbackServerContext* ctx, const v1::BatchCreateGoalsRequest* req,
    v1::BatchCreateGoalsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem =
            server::IdempotencyOf("BatchCreateGoals", call.principal.subject,
                                  *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        Audience audience = Audience::kTeam;
        std::string audience_id;
        switch (req->audience_case()) {
          case v1::BatchCreateGoalsRequest::kTeam:
            audience_id = IdOf(req->team(), kTeamShape, "team", &errors);
            break;
          case v1::BatchCreateGoalsRequest::kManager:
            audience = Audience::kDirectReports;
            audience_id =
                IdOf(req->manager(), kPersonShape, "manager", &errors);
            break;
          default:
            errors.Add("audience", "set team or manager");
        }
        Goal templ =
            ReadGoal(req->template_(), "template", &TemplateFields(), &errors);
        std::vector<KeyResult> krs;
        for (int i = 0; i < req->key_results_size(); ++i) {
          krs.push_back(ReadKeyResult(req->key_results(i),
                                      absl::StrCat("key_results[", i, "]"),
                                      nullptr, &errors));
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->BatchCreateGoals(*caller, std::move(templ),
                                               std::move(krs), audience,
                                               audience_id, *idem);
        if (!made.ok()) return made.status();
        for (const auto& v : *made) Render(v, resp->add_goals());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListGoals(
    grpc::CallbackServerContext* ctx, const v1::ListGoalsRequest* req,
    v1::ListGoalsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        GoalFilter f;
        if (!req->owner().empty()) {
          Owner owner = OwnerOf(req->owner(), "owner", &errors);
          f.owner_person_id = owner.person_id;
          f.owner_team_id = owner.team_id;
        }
        f.team_id = OptionalIdOf(req->team(), kTeamShape, "team", &errors);
        f.cycle_id = OptionalIdOf(req->cycle(), kCycleShape, "cycle", &errors);
        f.parent_id =
            OptionalIdOf(req->parent(), kGoalShape, "parent", &errors);
        f.state = static_cast<int>(EnumOf<GoalState>(
            req->state(), v1::Goal::State_descriptor(), "state", &errors));
        f.health = EnumOf<Health>(req->health(), v1::Health_descriptor(),
                                  "health", &errors);
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(f.owner_person_id, "|", f.owner_team_id, "|",
                         f.team_id, "|", f.cycle_id, "|", f.parent_id, "|",
                         f.state, "|", static_cast<int>(f.health));
        auto paging = StartPage(runtime_->tokens(), "ListGoals", filters,
                                req->page_size(), req->page_token(), false);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto goals = service_->ListGoals(*caller, f, paging->page, &next);
        if (!goals.ok()) return goals.status();
        for (const auto& v : *goals) Render(v, resp->add_goals());
        resp->set_next_page_token(
            TokenFor(runtime_->tokens(), "ListGoals", filters, next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::UpdateGoal(
    grpc::CallbackServerContext* ctx, const v1::UpdateGoalRequest* req,
    v1::Goal* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string id =
            IdOf(req->goal().name(), kGoalShape, "goal.name", &errors);
        std::vector<std::string> mask(req->update_mask().paths().begin(),
                                      req->update_mask().paths().end());
        Goal patch = ReadGoal(req->goal(), "goal", &mask, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto v = service_->UpdateGoal(*caller, id, patch, mask,
                                      req->goal().etag(), req->reason());
        if (!v.ok()) return v.status();
        Render(*v, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::DeleteGoal(
    grpc::CallbackServerContext* ctx, const v1::DeleteGoalRequest* req,
    google::protobuf::Empty* /*resp*/) {
  return runtime_->Unary(
      ctx, [this, req](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        return service_->DeleteGoal(*caller, *id, req->etag());
      });
}

template <typename Request>
grpc::ServerUnaryReactor* GoalsHandler::Decide(grpc::CallbackServerContext* ctx,
                                               const Request* req,
                                               v1::Goal* resp, bool approve) {
  return runtime_->Unary(
      ctx,
      [this, req, resp,
       approve](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto v = approve ? service_->ApproveGoal(*caller, *id, req->etag(),
                                                 req->comment())
                         : service_->ReturnGoal(*caller, *id, req->etag(),
                                                req->comment());
        if (!v.ok()) return v.status();
        Render(*v, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ApproveGoal(
    grpc::CallbackServerContext* ctx, const v1::ApproveGoalRequest* req,
    v1::Goal* resp) {
  return Decide(ctx, req, resp, /*approve=*/true);
}

grpc::ServerUnaryReactor* GoalsHandler::ReturnGoal(
    grpc::CallbackServerContext* ctx, const v1::ReturnGoalRequest* req,
    v1::Goal* resp) {
  return Decide(ctx, req, resp, /*approve=*/false);
}

}  // namespace sightline::goals
