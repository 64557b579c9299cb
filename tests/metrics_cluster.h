#pragma once

// A real metrics service for cross-process tests: a PeopleCluster (Redis, the
// database, the people binary) with an org seeded through SyncPeople, and the
// sightline-metrics binary beside it with its own database (a SQLite file, or
// a database of its own on the same PostgreSQL cluster), the same JWT secret
// and --people_address pointing at the people service. The goals binary is
// not started: the metrics service does not talk to it. Everything is started
// by the test and stopped by pid.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/support/sync_stream.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {

namespace mv1 = ::sightline::metrics::v1;

class MetricsCluster {
 public:
  // Starts everything, seeds `org` and waits until the metrics service's
  // replica of the directory has loaded it. `metrics_args` go to the binary
  // (after the defaults, so they win).
  static absl::StatusOr<std::unique_ptr<MetricsCluster>> Start(
      Db db, std::vector<std::string> metrics_args = {},
      OrgSpec org = DefaultOrg());
  ~MetricsCluster();

  PeopleCluster& people() { return *people_; }
  ServiceProcess& service() { return *metrics_; }
  mv1::MetricsService::Stub* stub() const { return stub_.get(); }
  // A stub on a channel of its own (its own subchannel, so no reconnect
  // backoff inherited from another channel).
  std::unique_ptr<mv1::MetricsService::Stub> NewStub() const;
  const std::string& dir() const { return people_->dir(); }
  const std::string& db_url() const { return db_url_; }

  // SIGKILL, and wait for the process to be gone.
  absl::Status Kill();
  // Starts again (after Kill or not) on the same ports and database; waits
  // until the replica has loaded the directory again. stub() is renewed.
  absl::Status Restart();
  // Waits until the log says the directory was loaded `times` times.
  absl::Status WaitForDirectory(int times, absl::Duration timeout);

  const std::string& Person(const std::string& ext) const;
  const std::string& Team(const std::string& ext) const;
  std::string Token(const std::string& ext) const;
  std::string ServiceToken() const;

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (mv1::MetricsService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const std::string& token, const Req& req,
                    Resp* resp) const {
    grpc::ClientContext ctx;
    Authorize(&ctx, token, absl::Seconds(20));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

 private:
  MetricsCluster() = default;

  std::unique_ptr<PeopleCluster> people_;
  std::unique_ptr<ServiceProcess> metrics_;
  std::unique_ptr<mv1::MetricsService::Stub> stub_;
  std::string db_url_;
  std::map<std::string, std::string> person_names_, team_names_;
  std::map<std::string, std::vector<auth::Role>> roles_;
};

// A WatchKpis stream with its own deadline, so that a missing event fails the
// read instead of hanging the test.
class KpiWatch {
 public:
  KpiWatch(mv1::MetricsService::Stub* stub, const std::string& token,
           const std::string& resume_token = "",
           absl::Duration deadline = absl::Seconds(30));
  // Reads events up to and including the first that `done` accepts (at most
  // `max`); `found` tells whether it came.
  template <typename Pred>
  std::vector<mv1::WatchKpisResponse> ReadUntil(Pred done, int max,
                                                bool* found) {
    std::vector<mv1::WatchKpisResponse> out;
    *found = false;
    for (int i = 0; i < max; ++i) {
      mv1::WatchKpisResponse r;
      if (!reader_->Read(&r)) break;
      out.push_back(r);
      if (done(r)) {
        *found = true;
        break;
      }
    }
    return out;
  }
  grpc::Status Cancel();

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<mv1::WatchKpisResponse>> reader_;
};

}  // namespace sightline::testing
