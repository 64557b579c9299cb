// GoalsHandler: cycles.

#include <string>

#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "services/goals/goals_handler.h"
#include "services/goals/handler_internal.h"

namespace sightline::goals {

using server::EnumOf;
using server::FinishPage;
using server::StartPage;

grpc::ServerUnaryReactor* GoalsHandler::CreateCycle(
    grpc::CallbackServerContext* ctx, const v1::CreateCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf("CreateCycle", call.principal.subject,
                                          *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto cycle = CycleFromProto(req->cycle());
        if (!cycle.ok()) return cycle.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateCycle(*caller, std::move(*cycle), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::GetCycle(
    grpc::CallbackServerContext* ctx, const v1::GetCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseCycleName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto c = service_->GetCycle(*caller, *id);
        if (!c.ok()) return c.status();
        Render(*c, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListCycles(
    grpc::CallbackServerContext* ctx, const v1::ListCyclesRequest* req,
    v1::ListCyclesResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        int state = static_cast<int>(EnumOf<CycleState>(
            req->state(), v1::Cycle::State_descriptor(), "state", &errors));
        if (!errors.empty()) return errors.Build();
        std::string filters = absl::StrCat(state);
        auto paging = StartPage(runtime_->tokens(), "ListCycles", filters,
                                req->page_size(), req->page_token(), true);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto cycles = service_->ListCycles(*caller, state, paging->page);
        if (!cycles.ok()) return cycles.status();
        resp->set_next_page_token(
            FinishPage(runtime_->tokens(), "ListCycles", filters, *paging,
                       &*cycles, [](const Cycle& c) { return c.id; }));
        for (const auto& c : *cycles) Render(c, resp->add_cycles());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::CloseCycle(
    grpc::CallbackServerContext* ctx, const v1::CloseCycleRequest* req,
    v1::Cycle* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseCycleName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto c = service_->CloseCycle(*caller, *id, req->etag());
        if (!c.ok()) return c.status();
        Render(*c, resp);
        return absl::OkStatus();
      });
}

}  // namespace sightline::goals
