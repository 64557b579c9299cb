#include "tests/metrics_cluster.h"

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"

namespace sightline::testing {

absl::StatusOr<std::unique_ptr<MetricsCluster>> MetricsCluster::Start(
    Db db, std::vector<std::string> metrics_args, OrgSpec org) {
  std::unique_ptr<MetricsCluster> c(new MetricsCluster());
  auto people = PeopleCluster::Start(db);
  if (!people.ok()) return people.status();
  c->people_ = std::move(*people);
  for (const auto& p : org.people) c->roles_[p.ext] = p.roles;
  if (auto st = SeedOrg(*c->people_, org, &c->person_names_, &c->team_names_);
      !st.ok()) {
    return st;
  }
  c->db_url_ = c->dir() + "/metrics.db";
  if (db == Db::kPostgres) {
    if (c->people_->postgres() == nullptr)
      return absl::InternalError("the people cluster has no PostgreSQL");
    auto url = c->people_->postgres()->CreateDatabase("metrics");
    if (!url.ok()) return url.status();
    c->db_url_ = *url;
  }
  std::vector<std::string> args = {
      "--db=" + c->db_url_,
      "--jwt_key_file=" + c->people_->tokens().secret_file(),
      "--people_address=" + c->people_->service().address(),
      "--change_poll_interval=50ms", "--shutdown_grace=10s"};
  args.insert(args.end(), metrics_args.begin(), metrics_args.end());
  auto svc = ServiceProcess::Start(
      c->dir(), "metrics", BinaryPath("SIGHTLINE_METRICS_BINARY"), args);
  if (!svc.ok()) return svc.status();
  c->metrics_ = std::move(*svc);
  c->stub_ = c->NewStub();
  // The org was seeded before the service started: its first load holds it.
  if (auto st = c->WaitForDirectory(1, absl::Seconds(60)); !st.ok()) return st;
  return c;
}

MetricsCluster::~MetricsCluster() {
  // Our channel first: the server's shutdown waits on open connections.
  stub_.reset();
  if (metrics_ != nullptr) metrics_->Stop();
  metrics_.reset();
  people_.reset();
}

std::unique_ptr<mv1::MetricsService::Stub> MetricsCluster::NewStub() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return mv1::MetricsService::NewStub(grpc::CreateCustomChannel(
      metrics_->address(), grpc::InsecureChannelCredentials(), args));
}

absl::Status MetricsCluster::WaitForDirectory(int times,
                                              absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Count(metrics_->Log(), "people directory loaded") <
         static_cast<size_t>(times)) {
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the metrics replica never loaded");
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::OkStatus();
}

absl::Status MetricsCluster::Kill() {
  if (auto st = metrics_->process()->Signal(SIGKILL); !st.ok()) return st;
  auto waited = metrics_->process()->Wait(absl::Seconds(20));
  return waited.ok() ? absl::OkStatus() : waited.status();
}

absl::Status MetricsCluster::Restart() {
  int loads =
      static_cast<int>(Count(metrics_->Log(), "people directory loaded"));
  stub_.reset();
  if (auto st = metrics_->Restart(); !st.ok()) return st;
  stub_ = NewStub();
  return WaitForDirectory(loads + 1, absl::Seconds(60));
}

const std::string& MetricsCluster::Person(const std::string& ext) const {
  auto it = person_names_.find(ext);
  if (it == person_names_.end()) {
    ADD_FAILURE() << "no person " << ext << " in the org";
    static const std::string* empty = new std::string();
    return *empty;
  }
  return it->second;
}

const std::string& MetricsCluster::Team(const std::string& ext) const {
  auto it = team_names_.find(ext);
  if (it == team_names_.end()) {
    ADD_FAILURE() << "no team " << ext << " in the org";
    static const std::string* empty = new std::string();
    return *empty;
  }
  return it->second;
}

std::string MetricsCluster::Token(const std::string& ext) const {
  auto it = roles_.find(ext);
  std::vector<auth::Role> roles;
  if (it != roles_.end()) roles = it->second;
  return people_->tokens().Mint(absl::StrCat(ext, "@example.com"), roles);
}

std::string MetricsCluster::ServiceToken() const {
  return people_->tokens().Mint("metrics-it-service", {auth::Role::kService});
}

KpiWatch::KpiWatch(mv1::MetricsService::Stub* stub, const std::string& token,
                   const std::string& resume_token, absl::Duration deadline) {
  Authorize(&ctx_, token, deadline);
  mv1::WatchKpisRequest req;
  req.set_resume_token(resume_token);
  reader_ = stub->WatchKpis(&ctx_, req);
  // Headers come once the stream is positioned: whatever commits after this
  // is seen.
  reader_->WaitForInitialMetadata();
}

grpc::Status KpiWatch::Cancel() {
  ctx_.TryCancel();
  return reader_->Finish();
}

}  // namespace sightline::testing
