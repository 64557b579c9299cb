// GoalsHandler: check-ins and due check-ins.

#include <string>

#include "absl/strings/str_cat.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "services/goals/goals_handler.h"
#include "services/goals/handler_internal.h"

namespace sightline::goals {

using server::FinishPage;
using server::IdOf;
using server::kPersonShape;
using server::StartPage;
using server::TokenFor;

grpc::ServerUnaryReactor* GoalsHandler::CreateCheckIn(
    grpc::CallbackServerContext* ctx, const v1::CreateCheckInRequest* req,
    v1::CheckIn* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf(
            "CreateCheckIn", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto goal_id = ParseGoalName(req->parent(), "parent");
        if (!goal_id.ok()) return goal_id.status();
        auto check_in = CheckInFromProto(req->check_in(), *goal_id);
        if (!check_in.ok()) return check_in.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateCheckIn(*caller, *goal_id,
                                            std::move(*check_in), *idem);
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListCheckIns(
    grpc::CallbackServerContext* ctx, const v1::ListCheckInsRequest* req,
    v1::ListCheckInsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto paging = StartPage(runtime_->tokens(), "ListCheckIns", *id,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto check_ins = service_->ListCheckIns(*caller, *id, paging->page);
        if (!check_ins.ok()) return check_ins.status();
        resp->set_next_page_token(
            FinishPage(runtime_->tokens(), "ListCheckIns", *id, *paging,
                       &*check_ins, [](const CheckIn& c) {
                         return absl::StrCat(c.create_time, "/", c.id);
                       }));
        for (const auto& c : *check_ins) ToProto(c, resp->add_check_ins());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListDueCheckIns(
    grpc::CallbackServerContext* ctx, const v1::ListDueCheckInsRequest* req,
    v1::ListDueCheckInsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string person_id, manager_id;
        switch (req->subject_case()) {
          case v1::ListDueCheckInsRequest::kPerson:
            person_id = IdOf(req->person(), kPersonShape, "person", &errors);
            break;
          case v1::ListDueCheckInsRequest::kManager:
            manager_id = IdOf(req->manager(), kPersonShape, "manager", &errors);
            break;
          default:
            errors.Add("subject", "set person or manager");
        }
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(person_id, "|", manager_id, "|", req->cadence_days());
        auto paging = StartPage(runtime_->tokens(), "ListDueCheckIns", filters,
                                req->page_size(), req->page_token(), false);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto due =
            service_->ListDueCheckIns(*caller, person_id, manager_id,
                                      req->cadence_days(), paging->page, &next);
        if (!due.ok()) return due.status();
        for (const auto& d : *due) {
          auto* out = resp->add_due();
          Render(d.goal, out->mutable_goal());
          out->set_days_since(d.days_since);
        }
        resp->set_next_page_token(
            TokenFor(runtime_->tokens(), "ListDueCheckIns", filters, next));
        return absl::OkStatus();
      });
}

}  // namespace sightline::goals
