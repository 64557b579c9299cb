#include "lib/testing/in_process.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "lib/auth/jwt.h"
#include "lib/testing/harness.h"

namespace sightline::testing {

absl::StatusOr<std::unique_ptr<storage::Database>> OpenMigratedSqlite(
    const std::string& dir, const std::string& service,
    const std::vector<storage::Migration>& migrations) {
  auto db = storage::Database::Open(
      {.url = absl::StrCat("sqlite://", dir, "/", service, ".db"),
       .pool_size = 2});
  if (!db.ok()) return db.status();
  if (auto st = storage::Migrate(**db, service, migrations); !st.ok())
    return st;
  return db;
}

absl::StatusOr<std::unique_ptr<server::Runtime>> HandlerRuntime(
    const std::string& service, const std::string& key) {
  server::ServerConfig config;
  config.service = service;
  config.worker_threads = 2;
  config.max_queued_calls = 100;
  auth::VerifierConfig vc;
  vc.key = key;
  auto verifier = auth::TokenVerifier::Create(vc);
  if (!verifier.ok()) return verifier.status();
  return std::make_unique<server::Runtime>(config, std::move(*verifier),
                                           storage::TokenCodec("page-key"));
}

std::unique_ptr<grpc::Server> ServeOnLoopback(grpc::Service* service,
                                              int* port) {
  grpc::ServerBuilder builder;
  *port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           port);
  builder.RegisterService(service);
  auto server = builder.BuildAndStart();
  if (*port <= 0) return nullptr;
  return server;
}

std::unique_ptr<grpc::ClientContext> ContextAs(const std::string& key,
                                               const std::string& subject,
                                               std::vector<auth::Role> roles) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(20));
  if (subject.empty()) return ctx;
  auth::MintOptions m;
  m.key = key;
  m.subject = subject;
  m.roles = std::move(roles);
  auto token = auth::Mint(m);
  if (token.ok())
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", *token));
  return ctx;
}

absl::Status HandlerBed::Open(const std::string& service,
                              const std::vector<storage::Migration>& migrations,
                              const std::string& key) {
  dir_ = MakeTempDir(service);
  auto db = OpenMigratedSqlite(dir_, service, migrations);
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  auto runtime = HandlerRuntime(service + "-handler-test", key);
  if (!runtime.ok()) return runtime.status();
  runtime_ = std::move(*runtime);
  feed_ =
      std::make_unique<storage::ChangeFeed>(db_.get(), absl::Milliseconds(20));
  feed_->Start();
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> HandlerBed::Serve(grpc::Service* handler) {
  int port = 0;
  server_ = ServeOnLoopback(handler, &port);
  if (server_ == nullptr) return nullptr;
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

void HandlerBed::Stop() {
  streams_.CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "stop"));
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();
  if (feed_ != nullptr) feed_->Stop();
  if (!dir_.empty()) RemoveTree(dir_);
  dir_.clear();
}

}  // namespace sightline::testing
