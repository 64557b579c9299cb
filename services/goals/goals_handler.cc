#include "services/goals/goals_handler.h"

#include <utility>

namespace sightline::goals {

GoalsHandler::GoalsHandler(server::Runtime* runtime, GoalsService* service,
                           ResolveCaller resolve,
                           server::ChangeStreamDeps watch)
    : runtime_(runtime),
      service_(service),
      resolve_(std::move(resolve)),
      watch_(std::move(watch)) {}

absl::StatusOr<Caller> GoalsHandler::CallerOf(const server::CallContext& call,
                                              bool fresh) const {
  return resolve_(call.principal, fresh);
}

void GoalsHandler::Render(const GoalView& v, v1::Goal* out) const {
  ToProto(v, service_->Etag(v.goal), out);
}

void GoalsHandler::Render(const KeyResult& k, v1::KeyResult* out) const {
  ToProto(k, service_->Etag(k), out);
}

void GoalsHandler::Render(const Cycle& c, v1::Cycle* out) const {
  ToProto(c, service_->Etag(c), out);
}

}  // namespace sightline::goals
