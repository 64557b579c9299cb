#pragma once

// What the other services know of the org: an in-memory replica of the people
// directory, loaded with List calls and kept current by WatchPeople (resumed
// with its last token after any disconnect). Reads and access decisions use
// the replica, so they keep working while the people service is down. Writes
// that must not accept unvalidated data ask the people service itself (Fetch*),
// with a deadline, and fail with UNAVAILABLE when it cannot answer.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "lib/server/client.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::directory {

enum class PersonStatus { kActive = 1, kOnLeave = 2, kTerminated = 3 };

struct PersonEntry {
  std::string id;
  std::string external_id;
  std::string email;
  std::string display_name;
  std::string team_id;
  std::string manager_id;
  PersonStatus status = PersonStatus::kActive;
  int64_t update_time = 0;
  bool active() const { return status != PersonStatus::kTerminated; }
};

struct TeamEntry {
  std::string id;
  std::string external_id;
  std::string display_name;
  std::string parent_id;
  std::string lead_id;
  int64_t update_time = 0;
};

struct DirectoryOptions {
  // Deadline of each call to the people service.
  absl::Duration call_timeout = absl::Seconds(3);
  // Reconnect backoff of the Watch stream.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class Directory {
 public:
  Directory(std::shared_ptr<grpc::Channel> channel, server::ServiceToken* token,
            DirectoryOptions options = {});
  ~Directory();

  // Starts loading and following the directory in the background.
  void Start();
  void Stop();
  // True once the first full load has completed.
  bool ready() const { return ready_.HasBeenNotified(); }
  // Waits for the first load; false on timeout.
  bool WaitReady(absl::Duration timeout) const;

  // From the replica.
  std::optional<PersonEntry> Person(const std::string& id) const;
  std::optional<TeamEntry> Team(const std::string& id) const;
  // A token subject as an identity provider issues it: "people/{id}", an
  // email, or an HRIS employee id.
  std::optional<std::string> ResolveSubject(const std::string& subject) const;
  // Managers above a person, nearest first (loop-safe).
  std::vector<std::string> ManagementChain(const std::string& person_id) const;
  // Active people of a team, and of its sub-teams when asked.
  std::vector<std::string> TeamMembers(const std::string& team_id,
                                       bool subteams) const;
  // Active reports of a manager: direct only, or at every level below.
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const;
  size_t people_count() const;

  // From the people service itself (fresh; UNAVAILABLE when it cannot answer).
  absl::StatusOr<std::vector<PersonEntry>> FetchPeople(
      const std::vector<std::string>& ids);
  absl::StatusOr<TeamEntry> FetchTeam(const std::string& id);
  absl::StatusOr<std::vector<std::string>> FetchReportingChain(
      const std::string& id);
  absl::StatusOr<PersonEntry> FetchBySubject(const std::string& subject);
  // OK when every id is an active person; otherwise INVALID_ARGUMENT naming
  // fields[i] for each one that does not exist or has left.
  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields);

  // Applies one record (used by the loader and the Watch stream; public for
  // tests).
  void Apply(const people::v1::Person& p);
  void Apply(const people::v1::Team& t);

 private:
  void Run();
  absl::Status Load();
  absl::Status Follow(std::string* resume_token);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<people::v1::PeopleService::Stub> stub_;
  server::ServiceToken* token_;
  DirectoryOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, PersonEntry> people_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TeamEntry> teams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_email_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_external_id_
      ABSL_GUARDED_BY(mu_);

  absl::Notification ready_;
  std::atomic<bool> stopping_{false};
  absl::Mutex stream_mu_;
  grpc::ClientContext* stream_ctx_ ABSL_GUARDED_BY(stream_mu_) = nullptr;
  std::thread thread_;
};

PersonEntry FromProto(const people::v1::Person& p);

}  // namespace sightline::directory
