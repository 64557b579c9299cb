#include "tests/people_cluster.h"

#include <atomic>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"

namespace sightline::testing {

absl::StatusOr<std::unique_ptr<PeopleCluster>> PeopleCluster::Start(
    Db db, std::vector<std::string> extra_args) {
  std::unique_ptr<PeopleCluster> c(new PeopleCluster());
  c->db_ = db;
  c->dir_ = MakeTempDir("people-it");
  c->redis_ = std::make_unique<RedisServer>(c->dir_);
  if (auto st = c->redis_->Start(); !st.ok()) return st;
  std::string db_url = c->dir_ + "/people.db";
  if (db == Db::kPostgres) {
    c->pg_ = std::make_unique<PostgresServer>(c->dir_);
    if (auto st = c->pg_->Start(); !st.ok()) return st;
    auto url = c->pg_->CreateDatabase("people");
    if (!url.ok()) return url.status();
    db_url = *url;
  }
  c->tokens_ = std::make_unique<TestTokens>(c->dir_);
  std::vector<std::string> args = {
      "--db=" + db_url, "--redis=" + c->redis_->url(),
      "--jwt_key_file=" + c->tokens_->secret_file(),
      "--change_poll_interval=50ms", "--shutdown_grace=10s"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto svc = ServiceProcess::Start(c->dir_, "people",
                                   BinaryPath("SIGHTLINE_PEOPLE_BINARY"), args);
  if (!svc.ok()) return svc.status();
  c->service_ = std::move(*svc);
  return c;
}

PeopleCluster::~PeopleCluster() {
  if (service_ != nullptr) service_->Stop();
  service_.reset();
  redis_.reset();
  pg_.reset();
  // Keep the directory of a failed test for its logs.
  if (!::testing::Test::HasFailure() &&
      getenv("SIGHTLINE_KEEP_TEST_DIRS") == nullptr) {
    RemoveTree(dir_);
  }
}

std::unique_ptr<pv1::PeopleService::Stub> PeopleCluster::Stub() const {
  return pv1::PeopleService::NewStub(service_->Channel());
}

std::string PeopleCluster::AdminToken() const {
  return tokens_->Mint("tom.fischer@example.com", {auth::Role::kHrAdmin});
}
std::string PeopleCluster::EmployeeToken() const {
  return tokens_->Mint("kenji.watanabe@example.com", {});
}
std::string PeopleCluster::ServiceToken() const {
  return tokens_->Mint("hris-connector", {auth::Role::kService});
}

grpc::Status PeopleCluster::Sync(
    const pv1::SyncOptions& options,
    const std::vector<pv1::SyncPeopleRequest>& records,
    pv1::SyncPeopleResponse* response, const std::string& token) {
  auto stub = Stub();
  grpc::ClientContext ctx;
  Authorize(&ctx, token.empty() ? AdminToken() : token, absl::Seconds(120));
  auto writer = stub->SyncPeople(&ctx, response);
  pv1::SyncPeopleRequest first;
  *first.mutable_options() = options;
  bool open = writer->Write(first);
  for (const auto& r : records) {
    if (!open) break;
    open = writer->Write(r);
  }
  writer->WritesDone();
  return writer->Finish();
}

pv1::SyncPeopleRequest PersonMsg(const std::string& ext,
                                 const std::string& manager,
                                 const std::string& team) {
  pv1::SyncPeopleRequest m;
  auto* p = m.mutable_person();
  p->set_external_id(ext);
  p->set_email(absl::StrCat(ext, "@example.com"));
  p->set_display_name(absl::StrCat("Person ", ext));
  p->set_title("Engineer");
  p->set_manager_external_id(manager);
  p->set_team_external_id(team);
  p->set_start_date("2021-03-01");
  return m;
}

pv1::SyncPeopleRequest TeamMsg(const std::string& ext,
                               const std::string& parent) {
  pv1::SyncPeopleRequest m;
  auto* t = m.mutable_team();
  t->set_external_id(ext);
  t->set_display_name(absl::StrCat("Team ", ext));
  t->set_parent_external_id(parent);
  return m;
}

std::vector<pv1::SyncPeopleRequest> OrgRecords(int n, int fanout, int teams) {
  std::vector<pv1::SyncPeopleRequest> out;
  for (int t = 0; t < teams; ++t) out.push_back(TeamMsg(absl::StrCat("T", t)));
  for (int i = 0; i < n; ++i) {
    std::string manager = i == 0 ? "" : absl::StrCat("E", (i - 1) / fanout);
    out.push_back(PersonMsg(absl::StrCat("E", i), manager,
                            teams > 0 ? absl::StrCat("T", i % teams) : ""));
  }
  return out;
}

pv1::SyncOptions Full() {
  pv1::SyncOptions o;
  o.set_mode(pv1::SyncOptions::FULL);
  return o;
}

pv1::SyncOptions Incremental() {
  pv1::SyncOptions o;
  o.set_mode(pv1::SyncOptions::INCREMENTAL);
  return o;
}

std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(status.error_details())) return out;
  for (const auto& any : rpc.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

std::string ErrorReason(const grpc::Status& status) {
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(status.error_details())) return "";
  for (const auto& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

}  // namespace sightline::testing
