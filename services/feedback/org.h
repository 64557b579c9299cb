#pragma once

// What the feedback service asks of the other services. Reads and access
// decisions use the in-memory replica of the people directory; writes derive
// relationships and check people and goals with the services themselves
// (answers kept for a short time), and fail with UNAVAILABLE when they cannot
// answer: nothing unvalidated is written.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/auth/principal.h"
#include "lib/directory/directory.h"
#include "lib/org/directory_org.h"
#include "lib/server/client.h"
#include "services/feedback/rules.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"

namespace sightline::feedback {

class Org {
 public:
  virtual ~Org() = default;
  // From the replica.
  virtual std::vector<std::string> Chain(
      const std::string& person_id) const = 0;
  virtual std::string TeamOf(const std::string& person_id) const = 0;
  virtual std::string ManagerOf(const std::string& person_id) const = 0;
  virtual std::vector<std::string> TeamMembers(
      const std::string& team_id) const = 0;
  // Active reports: direct only, or at every level below.
  virtual std::vector<std::string> Reports(const std::string& manager_id,
                                           bool all_levels) const = 0;
  // nullopt when the team is unknown; "" when it has no lead.
  virtual std::optional<std::string> TeamLead(
      const std::string& team_id) const = 0;
  // The person a token stands for ("" for none). `fresh` asks the people
  // service about a subject the replica does not know yet.
  virtual absl::StatusOr<std::string> ResolvePerson(
      const auth::Principal& principal, bool fresh) = 0;

  // Fresh (see above).
  virtual absl::StatusOr<std::vector<std::string>> FreshChain(
      const std::string& person_id) = 0;
  virtual absl::Status ValidatePeople(
      const std::vector<std::string>& ids,
      const std::vector<std::string>& fields) = 0;
};

// Whether `caller` may reference a goal (and a key result of it): the goal
// exists and the caller may read it. INVALID_ARGUMENT naming `field` when
// not, the same answer whether the goal is missing or only hidden from the
// caller; UNAVAILABLE when the goals service cannot say.
class GoalCheck {
 public:
  virtual ~GoalCheck() = default;
  virtual absl::Status Check(const Caller& caller, const std::string& goal_id,
                             const std::string& key_result,
                             const std::string& field) = 0;
};

// Answers kept for `ttl`, keyed by string.
template <typename V>
class TtlCache {
 public:
  explicit TtlCache(absl::Duration ttl) : ttl_(ttl) {}
  std::optional<V> Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || absl::Now() >= it->second.second)
      return std::nullopt;
    return it->second.first;
  }
  void Put(const std::string& key, V value) {
    absl::MutexLock lock(&mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = {std::move(value), absl::Now() + ttl_};
  }

 private:
  static constexpr size_t kMaxEntries = 100000;
  absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::pair<V, absl::Time>> entries_
      ABSL_GUARDED_BY(mu_);
};

// Org over the replica of the people directory: org::DirectoryOrg, with the
// fresh answers kept for `ttl`.
class DirectoryOrg : public Org {
 public:
  DirectoryOrg(directory::Directory* dir, absl::Duration ttl)
      : dir_(dir), org_(dir), chains_(ttl), people_(ttl) {}
  std::vector<std::string> Chain(const std::string& person_id) const override;
  std::string TeamOf(const std::string& person_id) const override;
  std::string ManagerOf(const std::string& person_id) const override;
  std::vector<std::string> TeamMembers(
      const std::string& team_id) const override;
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const override;
  std::optional<std::string> TeamLead(
      const std::string& team_id) const override;
  absl::StatusOr<std::string> ResolvePerson(const auth::Principal& principal,
                                            bool fresh) override;
  absl::StatusOr<std::vector<std::string>> FreshChain(
      const std::string& person_id) override;
  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields) override;

 private:
  directory::Directory* dir_;
  org::DirectoryOrg org_;
  TtlCache<std::vector<std::string>> chains_;
  TtlCache<bool> people_;  // active people, as last confirmed
};

// Asks the goals service with the caller's own credentials (never this
// service's token, which reads every goal), so that goals' visibility rules
// decide.
class GrpcGoalCheck : public GoalCheck {
 public:
  GrpcGoalCheck(std::shared_ptr<grpc::Channel> channel, absl::Duration ttl,
                absl::Duration timeout);
  absl::Status Check(const Caller& caller, const std::string& goal_id,
                     const std::string& key_result,
                     const std::string& field) override;

 private:
  std::unique_ptr<goals::v1::GoalService::Stub> stub_;
  absl::Duration timeout_;
  // (caller's pseudonym, goal id) -> names of the key results the caller
  // reads; absent when the caller may not read the goal.
  TtlCache<std::optional<std::vector<std::string>>> goals_;
};

}  // namespace sightline::feedback
