#include "services/feedback/org.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/status/status.h"

namespace sightline::feedback {

std::vector<std::string> DirectoryOrg::Chain(
    const std::string& person_id) const {
  // The same walk as org::ManagementChain, under one lock of the replica.
  return dir_->ManagementChain(person_id);
}

std::string DirectoryOrg::TeamOf(const std::string& person_id) const {
  auto p = org_.Person(person_id);
  return p.has_value() ? p->team_id : "";
}

std::string DirectoryOrg::ManagerOf(const std::string& person_id) const {
  auto p = org_.Person(person_id);
  return p.has_value() ? p->manager_id : "";
}

std::vector<std::string> DirectoryOrg::TeamMembers(
    const std::string& team_id) const {
  return org_.TeamMembers(team_id);
}

std::vector<std::string> DirectoryOrg::Reports(const std::string& manager_id,
                                               bool all_levels) const {
  return org_.Reports(manager_id, all_levels);
}

std::optional<std::string> DirectoryOrg::TeamLead(
    const std::string& team_id) const {
  auto t = org_.Team(team_id);
  if (!t.has_value()) return std::nullopt;
  return t->lead_id;
}

absl::StatusOr<std::string> DirectoryOrg::ResolvePerson(
    const auth::Principal& principal, bool fresh) {
  auto caller = org_.ResolveCaller(principal, fresh);
  if (!caller.ok()) return caller.status();
  return caller->person_id;
}

absl::StatusOr<std::vector<std::string>> DirectoryOrg::FreshChain(
    const std::string& person_id) {
  if (auto hit = chains_.Get(person_id); hit.has_value()) return *hit;
  auto chain = org_.FreshManagementChain(person_id);
  if (!chain.ok()) return chain.status();
  chains_.Put(person_id, *chain);
  return chain;
}

absl::Status DirectoryOrg::ValidatePeople(
    const std::vector<std::string>& ids,
    const std::vector<std::string>& fields) {
  bool all_known = true;
  for (const auto& id : ids) all_known = all_known && people_.Get(id);
  if (all_known) return absl::OkStatus();
  auto st = org_.ValidatePeople(ids, fields);
  if (st.ok()) {
    for (const auto& id : ids) people_.Put(id, true);
  }
  return st;
}

GrpcGoalCheck::GrpcGoalCheck(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration ttl, absl::Duration timeout)
    : stub_(goals::v1::GoalService::NewStub(channel)),
      timeout_(timeout),
      goals_(ttl) {}

absl::Status GrpcGoalCheck::Check(const Caller& caller,
                                  const std::string& goal_id,
                                  const std::string& key_result,
                                  const std::string& field) {
  if (caller.authorization.empty() || caller.key.empty()) {
    // Every call but health and reflection carries a verified token.
    return absl::InternalError("goal check without the caller's credentials");
  }
  std::string goal = absl::StrCat("goals/", goal_id);
  std::string cache_key = absl::StrCat(caller.key, "/", goal_id);
  auto known = goals_.Get(cache_key);
  if (!known.has_value()) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", caller.authorization);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    goals::v1::ListKeyResultsRequest req;
    req.set_parent(goal);
    goals::v1::ListKeyResultsResponse resp;
    grpc::Status s = stub_->ListKeyResults(&ctx, req, &resp);
    // Goals answers NOT_FOUND for a goal the caller may not read, as for a
    // missing one; PERMISSION_DENIED is taken the same way.
    if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
        s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      known.emplace(std::nullopt);
    } else if (!s.ok()) {
      return status::FromDependency("goals", s);
    } else {
      known.emplace(std::vector<std::string>());
      for (const auto& kr : resp.key_results()) (*known)->push_back(kr.name());
    }
    goals_.Put(cache_key, *known);
  }
  // Without the goal's name, so that the answer is the same byte for byte
  // whichever goal it is about.
  if (!known->has_value()) return status::InvalidField(field, "does not exist");
  const std::vector<std::string>& key_results = **known;
  if (!key_result.empty() && std::find(key_results.begin(), key_results.end(),
                                       key_result) == key_results.end()) {
    return status::InvalidField(
        "feedback.key_result",
        absl::StrCat(key_result, " is not a key result of ", goal));
  }
  return absl::OkStatus();
}

}  // namespace sightline::feedback
