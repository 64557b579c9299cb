// What every Sightline server does, checked on the people binary: health,
// reflection, /metrics, TLS and mTLS, configuration errors and overrides.

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "lib/auth/tls.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using HealthResponse = grpc::health::v1::HealthCheckResponse;

std::string RunPromtool(const std::string& exposition, const std::string& dir) {
  std::string path = dir + "/metrics.txt";
  std::ofstream(path) << exposition;
  std::string cmd = "promtool check metrics < " + path + " 2>&1; echo rc=$?";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  if (p != nullptr) pclose(p);
  return out;
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    auto c = PeopleCluster::Start(Db::kSqlite, std::move(args));
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
  }
  std::unique_ptr<PeopleCluster> cluster_;
};

TEST_F(ServerTest, HealthWatchSeesNotServingWhenShutdownBegins) {
  Start({"--shutdown_drain=1s"});
  auto stub = grpc::health::v1::Health::NewStub(cluster_->service().Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("sightline.people.v1.PeopleService");
  auto reader = stub->Watch(&ctx, req);
  HealthResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthResponse::SERVING);
  ASSERT_TRUE(cluster_->service().process()->Signal(SIGTERM).ok());
  bool saw_not_serving = false;
  for (int i = 0; i < 10 && reader->Read(&resp); ++i) {
    if (resp.status() == HealthResponse::NOT_SERVING) {
      saw_not_serving = true;
      break;
    }
  }
  EXPECT_TRUE(saw_not_serving);
  // Then the server ends the stream itself, so it never holds up the exit.
  while (reader->Read(&resp)) {
  }
  EXPECT_THAT(reader->Finish(), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE,
                                             HasSubstr("shutting down")));
  auto st = cluster_->service().process()->Wait(absl::Seconds(30));
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
}

TEST_F(ServerTest, ReflectionListsTheServiceWithoutAToken) {
  Start();
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(
      cluster_->service().Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service())
    names.push_back(s.name());
  EXPECT_THAT(names, Contains("sightline.people.v1.PeopleService"));
  // And the file that defines it, so clients can build requests.
  req.Clear();
  req.set_file_containing_symbol("sightline.people.v1.PeopleService");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
  stream->WritesDone();
  EXPECT_THAT(stream->Finish(), GrpcOk());
}

TEST_F(ServerTest, MetricsUseGoGrpcNamesAndPassPromtool) {
  Start();
  auto before = cluster_->service().ScrapeMetrics();
  ASSERT_TRUE(before.ok()) << before.status();
  // Series exist from the start, for every method.
  EXPECT_EQ(MetricValue(*before,
                        "grpc_server_handled_total{grpc_code=\"OK\",grpc_"
                        "method=\"ListReports\","
                        "grpc_service=\"sightline.people.v1.PeopleService\","
                        "grpc_type=\"unary\"}"),
            0);
  EXPECT_EQ(
      MetricValue(
          *before,
          "grpc_server_started_total{grpc_method=\"SyncPeople\",grpc_service="
          "\"sightline.people.v1.PeopleService\",grpc_type=\"client_stream\"}"),
      0);
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(5), &resp), GrpcOk());
  auto stub = cluster_->Stub();
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::GetPersonRequest req;
  req.set_name("people/doesnotexist");
  pv1::Person p;
  EXPECT_THAT(stub->GetPerson(&ctx, req, &p),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  auto after = cluster_->service().ScrapeMetrics();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(MetricValue(*after,
                        "grpc_server_handled_total{grpc_code=\"NotFound\",grpc_"
                        "method=\"GetPerson\","
                        "grpc_service=\"sightline.people.v1.PeopleService\","
                        "grpc_type=\"unary\"}"),
            1);
  EXPECT_EQ(
      MetricValue(
          *after,
          "grpc_server_msg_received_total{grpc_method=\"SyncPeople\",grpc_"
          "service="
          "\"sightline.people.v1.PeopleService\",grpc_type=\"client_stream\"}"),
      1 + 5 + 3);  // options, people, teams
  EXPECT_THAT(*after, HasSubstr("sightline_sql_duration_seconds_bucket{db="
                                "\"sqlite\",op=\"people.sync\""));
  EXPECT_THAT(*after,
              HasSubstr("sightline_cache_requests_total{cache=\"people\""));
  EXPECT_THAT(*after, HasSubstr("process_resident_memory_bytes"));
  EXPECT_THAT(*after, HasSubstr("sightline_build_info{service=\"people\""));
  // No label carries a person or an id.
  EXPECT_FALSE(absl::StrContains(*after, "people/"));
  std::string check = RunPromtool(*after, cluster_->dir());
  EXPECT_THAT(check, HasSubstr("rc=0")) << check;
}

TEST_F(ServerTest, UnaryCallsAreCountedLoggedAndEchoTheRequestId) {
  // Unary calls are measured by the runtime that serves them, not by an
  // interceptor: every series and log field must still be there.
  Start();
  pv1::SyncPeopleResponse synced;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(5), &synced), GrpcOk());
  auto stub = cluster_->Stub();
  pv1::ListPeopleResponse everyone;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    ASSERT_THAT(stub->ListPeople(&ctx, pv1::ListPeopleRequest(), &everyone),
                GrpcOk());
    ASSERT_FALSE(everyone.people().empty());
  }
  auto metadata = [](const grpc::ClientContext& ctx, const std::string& key) {
    auto it = ctx.GetServerInitialMetadata().find(key);
    if (it == ctx.GetServerInitialMetadata().end()) return std::string("-");
    return std::string(it->second.data(), it->second.size());
  };
  pv1::GetPersonRequest req;
  pv1::Person p;
  {  // Found, with the client's request id, which comes back.
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    ctx.AddMetadata("x-request-id", "it-req-42");
    req.set_name(everyone.people(0).name());
    ASSERT_THAT(stub->GetPerson(&ctx, req, &p), GrpcOk());
    EXPECT_EQ(metadata(ctx, "x-request-id"), "it-req-42");
  }
  {  // Not found; no request id sent, none echoed.
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    req.set_name("people/doesnotexist");
    EXPECT_THAT(stub->GetPerson(&ctx, req, &p),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
    EXPECT_EQ(metadata(ctx, "x-request-id"), "-");
  }
  {  // No token; an invalid request id is replaced, not echoed.
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "has space");
    EXPECT_THAT(stub->GetPerson(&ctx, req, &p),
                GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
    EXPECT_EQ(metadata(ctx, "x-request-id"), "-");
  }
  auto text = cluster_->service().ScrapeMetrics();
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string labels =
      "grpc_method=\"GetPerson\",grpc_service=\"sightline.people.v1."
      "PeopleService\",grpc_type=\"unary\"}";
  auto handled = [&](const std::string& code) {
    return MetricValue(*text, "grpc_server_handled_total{grpc_code=\"" + code +
                                  "\"," + labels);
  };
  EXPECT_EQ(MetricValue(*text, "grpc_server_started_total{" + labels), 3);
  EXPECT_EQ(MetricValue(*text, "grpc_server_msg_received_total{" + labels), 3);
  EXPECT_EQ(MetricValue(*text, "grpc_server_msg_sent_total{" + labels), 1);
  EXPECT_EQ(handled("OK"), 1);
  EXPECT_EQ(handled("NotFound"), 1);
  EXPECT_EQ(handled("Unauthenticated"), 1);
  EXPECT_EQ(MetricValue(*text, "grpc_server_handling_seconds_count{" + labels),
            3);
  // The streamed sync is still counted (by an interceptor).
  EXPECT_EQ(MetricValue(*text,
                        "grpc_server_handled_total{grpc_code=\"OK\",grpc_"
                        "method=\"SyncPeople\",grpc_service=\"sightline."
                        "people.v1.PeopleService\",grpc_type=\"client_"
                        "stream\"}"),
            1);

  // One log line per call, with the caller and the request id (the service
  // flushes its log every 50 ms, hence the bounded wait).
  const std::string ok_line =
      "\"method\":\"/sightline.people.v1.PeopleService/GetPerson\",\"code\":"
      "\"OK\"";
  std::string log;
  for (int i = 0; i < 250; ++i) {
    log = cluster_->service().Log();
    if (absl::StrContains(log, "\"code\":\"Unauthenticated\"")) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  size_t at = log.find(ok_line);
  ASSERT_NE(at, std::string::npos) << log;
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_THAT(line, HasSubstr("\"principal\":\"kenji.watanabe@example.com\""));
  EXPECT_THAT(line, HasSubstr("\"request_id\":\"it-req-42\""));
  EXPECT_THAT(log, HasSubstr("\"code\":\"NotFound\""));
  EXPECT_FALSE(absl::StrContains(log, "has space"));
}

TEST_F(ServerTest, EnvironmentVariablesOverrideDefaults) {
  // SIGHTLINE_LOG_CALLS=false is applied like --log_calls=false.
  std::string dir = MakeTempDir("server-env");
  TestTokens tokens(dir);
  ProcessOptions o;
  int port = FreePort();
  o.argv = {BinaryPath("SIGHTLINE_PEOPLE_BINARY"), "--metrics_address="};
  o.env = {{"SIGHTLINE_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", port)},
           {"SIGHTLINE_DB", dir + "/p.db"},
           {"SIGHTLINE_JWT_KEY_FILE", tokens.secret_file()},
           {"SIGHTLINE_LOG_CALLS", "false"}};
  o.log_path = dir + "/people.log";
  auto p = Process::Start(o);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(WaitForServing(absl::StrCat("127.0.0.1:", port),
                             absl::Seconds(30), p->get())
                  .ok())
      << (*p)->Log();
  auto stub = pv1::PeopleService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  Authorize(&ctx, tokens.Mint("someone@example.com", {}));
  pv1::ListPeopleRequest req;
  pv1::ListPeopleResponse resp;
  EXPECT_THAT(stub->ListPeople(&ctx, req, &resp), GrpcOk());
  EXPECT_EQ((*p)->Stop(), 0);
  EXPECT_FALSE(absl::StrContains((*p)->Log(), "\"msg\":\"rpc\""));
  RemoveTree(dir);
}

TEST_F(ServerTest, BadConfigurationExitsWithAnErrorNamingTheFlag) {
  std::string dir = MakeTempDir("server-config");
  TestTokens tokens(dir);
  auto run = [&](std::vector<std::string> args) {
    ProcessOptions o;
    o.argv = {BinaryPath("SIGHTLINE_PEOPLE_BINARY"),
              "--grpc_address=127.0.0.1:0", "--metrics_address="};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.log_path = dir + "/run.log";
    std::remove(o.log_path.c_str());
    auto p = Process::Start(o);
    EXPECT_TRUE(p.ok());
    auto st = (*p)->Wait(absl::Seconds(30));
    EXPECT_TRUE(st.ok());
    return std::make_pair(WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, (*p)->Log());
  };
  std::string key = "--jwt_key_file=" + tokens.secret_file();
  auto [c1, l1] = run({key, "--db=" + dir + "/a.db", "--worker_threads=0"});
  EXPECT_EQ(c1, 2);
  EXPECT_THAT(l1, HasSubstr("--worker_threads"));
  auto [c2, l2] =
      run({"--db=" + dir + "/a.db", "--jwt_key_file=" + dir + "/missing"});
  EXPECT_EQ(c2, 2);
  EXPECT_THAT(l2, HasSubstr("--jwt_key_file"));
  std::ofstream(dir + "/short.secret") << "too-short\n";
  auto [c3, l3] =
      run({"--db=" + dir + "/a.db", "--jwt_key_file=" + dir + "/short.secret"});
  EXPECT_EQ(c3, 2);
  EXPECT_THAT(l3, HasSubstr("--jwt_key_file"));
  auto [c4, l4] = run({key, "--db=mysql://x/y"});
  EXPECT_EQ(c4, 2);
  EXPECT_THAT(l4, HasSubstr("db"));
  auto [c5, l5] = run(
      {key, absl::StrCat("--db=postgresql://postgres@127.0.0.1:", FreePort(),
                         "/x")});
  EXPECT_EQ(c5, 1);
  EXPECT_THAT(l5, HasSubstr("cannot open the database"));
  auto [c6, l6] = run({key, "--db=" + dir + "/a.db", "--redis=http://nope"});
  EXPECT_EQ(c6, 2);
  EXPECT_THAT(l6, HasSubstr("redis"));
  auto [c7, l7] =
      run({key, "--db=" + dir + "/a.db", "--tls_cert_file=" + dir + "/nope.pem",
           "--tls_key_file=" + dir + "/nope.key"});
  EXPECT_NE(c7, 0);
  EXPECT_THAT(l7, HasSubstr("tls_cert_file"));
  RemoveTree(dir);
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("server-tls");
    ASSERT_TRUE(MakeTestCertificates(dir_).ok());
  }
  void TearDown() override {
    service_.reset();
    if (!HasFailure()) RemoveTree(dir_);
  }

  void StartService(bool mutual) {
    tokens_ = std::make_unique<TestTokens>(dir_);
    std::vector<std::string> args = {"--db=" + dir_ + "/p.db",
                                     "--jwt_key_file=" + tokens_->secret_file(),
                                     "--tls_cert_file=" + dir_ + "/server.pem",
                                     "--tls_key_file=" + dir_ + "/server.key"};
    if (mutual) args.push_back("--tls_client_ca_file=" + dir_ + "/ca.pem");
    auto s = ServiceProcess::Start(dir_, "people",
                                   BinaryPath("SIGHTLINE_PEOPLE_BINARY"), args,
                                   /*wait=*/false);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = std::move(*s);
  }

  // A ListPeople call with these client credentials; retried while the
  // server starts.
  grpc::Status Call(const auth::ClientTlsConfig& tls, bool plaintext = false) {
    grpc::Status last;
    for (int i = 0; i < 100; ++i) {
      std::shared_ptr<grpc::Channel> ch;
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      if (plaintext) {
        ch = grpc::CreateCustomChannel(
            service_->address(), grpc::InsecureChannelCredentials(), args);
      } else {
        auto made = auth::MakeChannel(service_->address(), tls, args);
        if (!made.ok())
          return grpc::Status(grpc::StatusCode::INTERNAL, "bad client config");
        ch = *made;
      }
      auto stub = pv1::PeopleService::NewStub(ch);
      grpc::ClientContext ctx;
      Authorize(&ctx, tokens_->Mint("someone@example.com", {}),
                absl::Seconds(2));
      pv1::ListPeopleRequest req;
      pv1::ListPeopleResponse resp;
      last = stub->ListPeople(&ctx, req, &resp);
      // Until the port listens, every client fails the same way; once the
      // service logged that it serves, the answer is final.
      if (last.ok() ||
          absl::StrContains(service_->Log(), "\"msg\":\"serving\""))
        return last;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return last;
  }

  std::string dir_;
  std::unique_ptr<TestTokens> tokens_;
  std::unique_ptr<ServiceProcess> service_;
};

TEST_F(TlsServerTest, TlsServerRefusesPlaintextAndServesTlsClients) {
  StartService(/*mutual=*/false);
  auth::ClientTlsConfig tls;
  tls.ca_file = dir_ + "/ca.pem";
  tls.server_name_override = "localhost";
  EXPECT_THAT(Call(tls), GrpcOk());
  EXPECT_THAT(Call({}, /*plaintext=*/true),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  auth::ClientTlsConfig wrong_ca = tls;
  wrong_ca.ca_file = dir_ + "/other_ca.pem";
  EXPECT_THAT(Call(wrong_ca), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsServerTest, MutualTlsNeedsAClientCertificateFromTheTrustedCa) {
  StartService(/*mutual=*/true);
  auth::ClientTlsConfig with_cert;
  with_cert.ca_file = dir_ + "/ca.pem";
  with_cert.cert_file = dir_ + "/client.pem";
  with_cert.key_file = dir_ + "/client.key";
  with_cert.server_name_override = "localhost";
  EXPECT_THAT(Call(with_cert), GrpcOk());
  auth::ClientTlsConfig no_cert = with_cert;
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  EXPECT_THAT(Call(no_cert), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  auth::ClientTlsConfig rogue = with_cert;
  rogue.cert_file = dir_ + "/rogue.pem";
  rogue.key_file = dir_ + "/rogue.key";
  EXPECT_THAT(Call(rogue), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

}  // namespace
}  // namespace sightline::testing
