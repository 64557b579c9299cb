// GoalsHandler: key results.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "services/goals/goals_handler.h"
#include "services/goals/handler_internal.h"

namespace sightline::goals {

using internal::kKeyResultShape;
using internal::ReadKeyResult;
using server::IdOf;
using server::kGoalShape;
using server::ParseInto;

grpc::ServerUnaryReactor* GoalsHandler::CreateKeyResult(
    grpc::CallbackServerContext* ctx, const v1::CreateKeyResultRequest* req,
    v1::KeyResult* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto idem = server::IdempotencyOf(
            "CreateKeyResult", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        status::FieldErrors errors;
        std::string goal_id =
            IdOf(req->parent(), kGoalShape, "parent", &errors);
        // The server chooses the id; a name sent anyway must fit the parent.
        if (!req->key_result().name().empty()) {
          std::vector<std::string> ids;
          if (ParseInto(req->key_result().name(), kKeyResultShape,
                        "key_result.name", &ids, &errors) &&
              !goal_id.empty() && ids[0] != goal_id) {
            errors.Add("key_result.name",
                       absl::StrCat("must be a key result of ", req->parent()));
          }
        }
        KeyResult kr =
            ReadKeyResult(req->key_result(), "key_result", nullptr, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateKeyResult(*caller, goal_id, std::move(kr),
                                              req->reason(), *idem);
        if (!made.ok()) return made.status();
        Render(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::UpdateKeyResult(
    grpc::CallbackServerContext* ctx, const v1::UpdateKeyResultRequest* req,
    v1::KeyResult* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::vector<std::string> ids;
        ParseInto(req->key_result().name(), kKeyResultShape, "key_result.name",
                  &ids, &errors);
        std::vector<std::string> mask(req->update_mask().paths().begin(),
                                      req->update_mask().paths().end());
        KeyResult patch =
            ReadKeyResult(req->key_result(), "key_result", &mask, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto k =
            service_->UpdateKeyResult(*caller, ids[0], ids[1], patch, mask,
                                      req->key_result().etag(), req->reason());
        if (!k.ok()) return k.status();
        Render(*k, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* GoalsHandler::DeleteKeyResult(
    grpc::CallbackServerContext* ctx, const v1::DeleteKeyResultRequest* req,
    google::protobuf::Empty* /*resp*/) {
  return runtime_->Unary(
      ctx, [this, req](const server::CallContext& call) -> absl::Status {
        auto name = ParseKeyResultName(req->name(), "name");
        if (!name.ok()) return name.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        return service_->DeleteKeyResult(*caller, name->goal_id,
                                         name->key_result_id, req->etag(),
                                         req->reason());
      });
}

grpc::ServerUnaryReactor* GoalsHandler::ListKeyResults(
    grpc::CallbackServerContext* ctx, const v1::ListKeyResultsRequest* req,
    v1::ListKeyResultsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseGoalName(req->parent(), "parent");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto krs = service_->ListKeyResults(*caller, *id);
        if (!krs.ok()) return krs.status();
        for (const auto& k : *krs) Render(k, resp->add_key_results());
        return absl::OkStatus();
      });
}

}  // namespace sightline::goals
