#pragma once

// Test doubles of what the feedback service asks of the other services: an
// in-memory org (the people service) and a goal check (the goals service),
// each answering UNAVAILABLE on its fresh calls while set down.

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "lib/status/status.h"
#include "services/feedback/org.h"

namespace sightline::feedback {

inline absl::Status Down() {
  return absl::UnavailableError("dependency unreachable (test)");
}

// An in-memory org that stands in for the people service: the replica always
// answers; the fresh calls fail with UNAVAILABLE while it is "down".
class FakeOrg : public Org {
 public:
  struct Person {
    std::string team, manager;
    bool active = true;
  };
  void AddTeam(const std::string& id, const std::string& lead) {
    teams_[id] = lead;
  }
  void AddPerson(const std::string& id, const std::string& team,
                 const std::string& manager, bool active = true) {
    people_[id] = Person{team, manager, active};
  }
  void set_down(bool down) { down_ = down; }

  std::vector<std::string> Chain(const std::string& id) const override {
    std::vector<std::string> out;
    for (std::string m = ManagerOf(id); !m.empty() && out.size() < 50;
         m = ManagerOf(m)) {
      out.push_back(m);
    }
    return out;
  }
  std::string TeamOf(const std::string& id) const override {
    auto it = people_.find(id);
    return it == people_.end() ? "" : it->second.team;
  }
  std::string ManagerOf(const std::string& id) const override {
    auto it = people_.find(id);
    return it == people_.end() ? "" : it->second.manager;
  }
  std::vector<std::string> TeamMembers(
      const std::string& team_id) const override {
    std::vector<std::string> out;
    for (const auto& [id, p] : people_)
      if (p.team == team_id && p.active) out.push_back(id);
    return out;
  }
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const override {
    std::vector<std::string> out;
    for (const auto& [id, p] : people_) {
      if (!p.active) continue;
      auto chain = Chain(id);
      bool direct = p.manager == manager_id;
      bool below =
          std::find(chain.begin(), chain.end(), manager_id) != chain.end();
      if (direct || (all_levels && below)) out.push_back(id);
    }
    return out;
  }
  std::optional<std::string> TeamLead(
      const std::string& team_id) const override {
    auto it = teams_.find(team_id);
    if (it == teams_.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::string> ResolvePerson(const auth::Principal& principal,
                                            bool fresh) override {
    std::string id = principal.subject;
    if (absl::StartsWith(id, "people/")) id = id.substr(7);
    if (people_.contains(id)) return id;
    if (fresh && down_) return Down();
    return std::string();
  }
  absl::StatusOr<std::vector<std::string>> FreshChain(
      const std::string& id) override {
    if (down_) return Down();
    return Chain(id);
  }
  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields) override {
    if (down_) return Down();
    status::FieldErrors errors;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = people_.find(ids[i]);
      if (it == people_.end() || !it->second.active) {
        errors.Add(fields[i],
                   absl::StrCat("people/", ids[i], " is not an active person"));
      }
    }
    return errors.Build();
  }

 private:
  std::map<std::string, std::string> teams_;  // id -> lead
  std::map<std::string, Person> people_;
  std::atomic<bool> down_{false};
};

// Goals with their key results, read by everyone unless private to some
// people; UNAVAILABLE while "down". Keeps the authorization it was last asked
// with.
class FakeGoals : public GoalCheck {
 public:
  void Add(const std::string& goal, std::vector<std::string> key_results,
           std::set<std::string> readers = {}) {
    goals_[goal] = std::move(key_results);
    readers_[goal] = std::move(readers);
  }
  void set_down(bool down) { down_ = down; }
  std::string last_authorization() const {
    absl::MutexLock lock(&mu_);
    return last_authorization_;
  }
  absl::Status Check(const Caller& caller, const std::string& goal_id,
                     const std::string& key_result,
                     const std::string& field) override {
    if (down_) return Down();
    {
      absl::MutexLock lock(&mu_);
      last_authorization_ = caller.authorization;
    }
    auto it = goals_.find(goal_id);
    auto readers = readers_.find(goal_id);
    bool hidden = readers != readers_.end() && !readers->second.empty() &&
                  !readers->second.contains(caller.person_id);
    if (it == goals_.end() || hidden)
      return status::InvalidField(field, "does not exist");
    if (!key_result.empty() && std::find(it->second.begin(), it->second.end(),
                                         key_result) == it->second.end()) {
      return status::InvalidField("feedback.key_result",
                                  "not a key result of the goal");
    }
    return absl::OkStatus();
  }

 private:
  std::map<std::string, std::vector<std::string>> goals_;
  std::map<std::string, std::set<std::string>> readers_;
  std::atomic<bool> down_{false};
  mutable absl::Mutex mu_;
  std::string last_authorization_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sightline::feedback
