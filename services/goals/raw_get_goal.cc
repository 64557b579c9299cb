// GoalsHandler::GetGoal, a raw method: the request and the Goal it answers
// with are bytes, so that a warm read can send a cached rendering as it is.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "google/protobuf/wire_format_lite.h"
#include "lib/server/api.h"
#include "services/goals/goals_handler.h"

namespace sightline::goals {

grpc::ServerUnaryReactor* GoalsHandler::GetGoal(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req_bytes,
    grpc::ByteBuffer* resp) {
  // Warm reads of the current version are answered from memory on the gRPC
  // thread: the goal's bytes are rendered once per cached version, without
  // the fields that depend on the time of the read (expected progress and
  // health), which follow them as a second, small message. Protobuf parses
  // concatenated messages as one, each field taken from where it appears.
  // History (as_of) needs the database.
  auto fast =
      [this, req_bytes,
       resp](const server::CallContext& call) -> std::optional<absl::Status> {
    v1::GetGoalRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParseGoalName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto as_of = ParseAsOf(req, absl::Now());
    if (!as_of.ok()) return as_of.status();
    if (as_of->has_value()) return std::nullopt;
    auto caller = CallerOf(call, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    auto v = service_->PeekGoal(*caller, *id);
    if (!v.has_value()) return std::nullopt;
    if (!v->ok()) return v->status();
    const std::string& timeless = (*v)->entry->Rendered([this](const Goal& g) {
      GoalView view;
      view.goal = g;  // expected progress and health left unset
      v1::Goal m;
      Render(view, &m);
      return m.SerializeAsString();
    });
    // The two fields as a v1::Goal would serialize them, written in place.
    uint8_t timed[32];
    uint8_t* end = timed;
    using google::protobuf::internal::WireFormatLite;
    if ((*v)->expected_progress != 0) {
      end = WireFormatLite::WriteDoubleToArray(
          v1::Goal::kExpectedProgressFieldNumber, (*v)->expected_progress, end);
    }
    if ((*v)->health != Health::kUnspecified) {
      end = WireFormatLite::WriteEnumToArray(
          v1::Goal::kHealthFieldNumber, static_cast<int>((*v)->health), end);
    }
    server::SetRaw(
        {timeless, absl::string_view(reinterpret_cast<char*>(timed),
                                     static_cast<size_t>(end - timed))},
        resp);
    return absl::OkStatus();
  };
  auto slow = [this, req_bytes,
               resp](const server::CallContext& call) -> absl::Status {
    v1::GetGoalRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParseGoalName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto as_of = ParseAsOf(req, absl::Now());
    if (!as_of.ok()) return as_of.status();
    auto caller = CallerOf(call, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    auto v = service_->GetGoal(*caller, *id, *as_of);
    if (!v.ok()) return v.status();
    v1::Goal m;
    Render(*v, &m);
    server::SetRaw(m.SerializeAsString(), resp);
    return absl::OkStatus();
  };
  return runtime_->Unary(ctx, fast, slow);
}

}  // namespace sightline::goals
