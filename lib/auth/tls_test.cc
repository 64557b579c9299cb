#include "lib/auth/tls.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/service.h"
#include "lib/testing/status_matchers.h"

namespace sightline::auth {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalidArgument =
    absl::StatusCode::kInvalidArgument;

ClientTlsConfig Client(std::string ca_file, std::string cert_file = "",
                       std::string key_file = "",
                       std::string server_name_override = "") {
  return {std::move(ca_file), std::move(cert_file), std::move(key_file),
          std::move(server_name_override)};
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(sightline::testing::MakeTempDir("auth_tls"));
    generated_ = sightline::testing::MakeTestCertificates(*dir_).ok();
  }
  static void TearDownTestSuite() {
    sightline::testing::RemoveTree(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(generated_)
        << sightline::testing::ReadFile(*dir_ + "/make-certs.log");
    grpc::EnableDefaultHealthCheckService(true);
  }
  void TearDown() override {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
    }
  }

  static std::string File(const std::string& name) {
    return *dir_ + "/" + name;
  }

  static ServerTlsConfig ServerTls() {
    return {File("server.pem"), File("server.key"), ""};
  }
  static ServerTlsConfig ServerMutualTls() {
    return {File("server.pem"), File("server.key"), File("ca.pem")};
  }

  // Starts a server with the default health service on a free loopback port.
  void StartServer(const ServerTlsConfig& config) {
    auto credentials = MakeServerCredentials(config);
    ASSERT_THAT(credentials, IsOk());
    grpc::ServerBuilder builder;
    // A server needs one service of its own besides the default health one.
    builder.RegisterCallbackGenericService(&unimplemented_);
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", port_); }

  grpc::Status Check(const ClientTlsConfig& config) {
    auto channel = MakeChannel(Target(), config);
    EXPECT_THAT(channel, IsOk());
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "");
    auto stub = Health::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    HealthCheckRequest request;
    HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok()) {
      EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
    }
    return status;
  }

  static std::string* dir_;
  static bool generated_;
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

std::string* TlsTest::dir_ = nullptr;
bool TlsTest::generated_ = false;

TEST_F(TlsTest, PlaintextWhenNothingIsConfigured) {
  StartServer({});
  EXPECT_THAT(Check({}), GrpcOk());
}

TEST_F(TlsTest, TlsClientTrustingTheCaReachesTlsServer) {
  StartServer(ServerTls());
  EXPECT_THAT(Check(Client(File("ca.pem"))), GrpcOk());
}

TEST_F(TlsTest, ServerNameOverrideIsChecked) {
  StartServer(ServerTls());
  EXPECT_THAT(Check(Client(File("ca.pem"), "", "", "localhost")), GrpcOk());
  EXPECT_THAT(Check(Client(File("ca.pem"), "", "", "payroll.example.com")),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, PlaintextClientCannotReachTlsServer) {
  StartServer(ServerTls());
  EXPECT_THAT(Check({}), GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, TlsClientCannotReachPlaintextServer) {
  StartServer({});
  EXPECT_THAT(Check(Client(File("ca.pem"))),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, ClientRefusesServerFromUntrustedCa) {
  StartServer(ServerTls());
  EXPECT_THAT(Check(Client(File("other_ca.pem"))),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, MutualTlsRefusesClientWithoutCertificate) {
  StartServer(ServerMutualTls());
  EXPECT_THAT(Check(Client(File("ca.pem"))),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, MutualTlsRefusesCertificateFromOtherCa) {
  StartServer(ServerMutualTls());
  EXPECT_THAT(
      Check(Client(File("ca.pem"), File("rogue.pem"), File("rogue.key"))),
      GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, MutualTlsAcceptsClientCertificate) {
  StartServer(ServerMutualTls());
  EXPECT_THAT(
      Check(Client(File("ca.pem"), File("client.pem"), File("client.key"))),
      GrpcOk());
}

TEST_F(TlsTest, ServerConfigErrorsNameTheFlag) {
  std::string missing = File("nope.pem");
  EXPECT_THAT(
      MakeServerCredentials({missing, File("server.key"), ""}),
      StatusIs(kInvalidArgument, HasSubstr(absl::StrCat(
                                     "tls_cert_file: cannot read ", missing))));
  EXPECT_THAT(
      MakeServerCredentials({File("server.pem"), missing, ""}),
      StatusIs(kInvalidArgument, HasSubstr("tls_key_file: cannot read")));
  EXPECT_THAT(MakeServerCredentials({File("server.pem"), "", ""}),
              StatusIs(kInvalidArgument,
                       "tls_key_file: required when tls_cert_file is set"));
  EXPECT_THAT(MakeServerCredentials({"", File("server.key"), ""}),
              StatusIs(kInvalidArgument,
                       "tls_cert_file: required when tls_key_file is set"));
  EXPECT_THAT(
      MakeServerCredentials({"", "", File("ca.pem")}),
      StatusIs(kInvalidArgument,
               "tls_cert_file: required when tls_client_ca_file is set"));
  EXPECT_THAT(
      MakeServerCredentials({File("server.pem"), File("server.key"), missing}),
      StatusIs(kInvalidArgument, HasSubstr("tls_client_ca_file: cannot read")));
  EXPECT_THAT(
      MakeServerCredentials({File("server.pem"), File("client.key"), ""}),
      StatusIs(kInvalidArgument,
               HasSubstr("tls_key_file: " + File("client.key") +
                         " does not match tls_cert_file")));

  std::string empty = File("empty.pem");
  std::ofstream(empty).flush();
  EXPECT_THAT(
      MakeServerCredentials({empty, File("server.key"), ""}),
      StatusIs(kInvalidArgument, "tls_cert_file: " + empty + " is empty"));
  // A key where the certificate belongs, and the other way round.
  EXPECT_THAT(
      MakeServerCredentials({File("server.key"), File("server.key"), ""}),
      StatusIs(kInvalidArgument, HasSubstr("tls_cert_file: no PEM")));
  EXPECT_THAT(
      MakeServerCredentials({File("server.pem"), File("server.pem"), ""}),
      StatusIs(kInvalidArgument, HasSubstr("tls_key_file: no")));
  EXPECT_THAT(
      MakeServerCredentials(
          {File("server.pem"), File("server.key"), File("make-certs.sh")}),
      StatusIs(kInvalidArgument, HasSubstr("tls_client_ca_file: no PEM")));
}

TEST_F(TlsTest, ClientConfigErrorsNameTheFlag) {
  std::string missing = File("nope.pem");
  EXPECT_THAT(
      MakeChannelCredentials(Client(missing)),
      StatusIs(kInvalidArgument,
               HasSubstr(absl::StrCat("tls_ca_file: cannot read ", missing))));
  EXPECT_THAT(
      MakeChannelCredentials(Client(File("ca.pem"), File("client.pem"))),
      StatusIs(
          kInvalidArgument,
          "tls_client_key_file: required when tls_client_cert_file is set"));
  EXPECT_THAT(
      MakeChannelCredentials(Client("", "", File("client.key"))),
      StatusIs(kInvalidArgument, HasSubstr("tls_client_cert_file: required")));
  EXPECT_THAT(MakeChannelCredentials(
                  Client("", File("client.pem"), File("server.key"))),
              StatusIs(kInvalidArgument,
                       HasSubstr("does not match tls_client_cert_file")));
  EXPECT_THAT(MakeChannel("127.0.0.1:1", Client(missing)),
              StatusIs(kInvalidArgument, HasSubstr("tls_ca_file")));
}

}  // namespace
}  // namespace sightline::auth
