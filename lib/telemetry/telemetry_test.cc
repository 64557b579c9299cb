#include "lib/telemetry/telemetry.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "lib/telemetry/log.h"

namespace sightline::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaptureLogsForTest(&logs_);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    // A server needs one service of its own before gRPC adds the health
    // service.
    builder.RegisterCallbackGenericService(&generic_);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        f;
    f.push_back(std::make_unique<ServerInterceptorFactory>(
        &telemetry_.server_metrics(), &telemetry_.calls(), /*log_calls=*/true));
    builder.experimental().SetInterceptorCreators(std::move(f));
    telemetry_.server_metrics().Initialize("/grpc.health.v1.Health/Check",
                                           RpcType::kUnary);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    std::vector<
        std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        c;
    c.push_back(std::make_unique<ClientInterceptorFactory>(
        &telemetry_.client_metrics()));
    channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials(),
        grpc::ChannelArguments(), std::move(c));
  }
  void TearDown() override {
    server_->Shutdown();
    CaptureLogsForTest(nullptr);
  }

  grpc::Status Check(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-request-id", "req-123");
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    return stub->Check(&ctx, req, &resp);
  }

  grpc::CallbackGenericService generic_;
  Telemetry telemetry_{"test", "0.0.0"};
  std::vector<std::string> logs_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(TelemetryTest, SeriesExistBeforeAnyCall) {
  std::string text = telemetry_.Scrape();
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_server_started_total{grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 0"));
  EXPECT_THAT(text, HasSubstr("grpc_code=\"PermissionDenied\""));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes"));
  EXPECT_THAT(
      text,
      HasSubstr("sightline_build_info{service=\"test\",version=\"0.0.0\"} 1"));
}

TEST_F(TelemetryTest, CountsServerAndClientCallsWithGoCodeNames) {
  ASSERT_TRUE(Check("").ok());
  EXPECT_EQ(Check("no.such.Service").error_code(), grpc::StatusCode::NOT_FOUND);
  std::string text = telemetry_.Scrape();
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_server_started_total{grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr("grpc_server_handled_total{grpc_code=\"NotFound\",grpc_method="
                "\"Check\",grpc_service=\"grpc.health.v1.Health\",grpc_type="
                "\"unary\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_server_msg_received_total{grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_server_handling_seconds_count{grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 2"));
  EXPECT_THAT(
      text,
      HasSubstr("grpc_client_handled_total{grpc_code=\"NotFound\",grpc_method="
                "\"Check\",grpc_service=\"grpc.health.v1.Health\",grpc_type="
                "\"unary\"} 1"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "grpc_client_started_total{grpc_method=\"Check\","
          "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"} 2"));
}

TEST_F(TelemetryTest, HealthCallsAreCountedButNotLogged) {
  ASSERT_TRUE(Check("").ok());
  FlushLogs();
  for (const auto& line : logs_)
    EXPECT_THAT(line, Not(HasSubstr("grpc.health")));
}

TEST_F(TelemetryTest, PromtoolAcceptsTheExposition) {
  ASSERT_TRUE(Check("").ok());
  std::string path = ::testing::TempDir() + "/metrics.txt";
  {
    std::ofstream out(path);
    out << telemetry_.Scrape();
  }
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) output += buf;
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << output;
}

TEST_F(TelemetryTest, ExposerServesOnItsOwnPort) {
  ASSERT_TRUE(telemetry_.StartExposer("127.0.0.1:0").ok());
  EXPECT_GT(telemetry_.metrics_port(), 0);
  EXPECT_NE(telemetry_.metrics_port(), port_);
  telemetry_.StopExposer();
}

TEST(LogTest, WritesEscapedJson) {
  std::vector<std::string> lines;
  CaptureLogsForTest(&lines);
  LogInfo("hello \"world\"\n", {{"n", 3}, {"s", "a\\b"}, {"ok", true}});
  CaptureLogsForTest(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"msg\":\"hello \\\"world\\\"\\n\""));
  EXPECT_THAT(lines[0], HasSubstr("\"n\":3,\"s\":\"a\\\\b\",\"ok\":true}"));
}

TEST(LogTest, RpcLinesCarryEveryFieldAsJson) {
  std::vector<std::string> lines;
  CaptureLogsForTest(&lines);
  LogRpc(Level::kInfo, "/pkg.S/M", "NotFound", 1234567, "ada@example.com",
         "req-1", "people/x \"missing\"");
  LogRpc(Level::kInfo, "/pkg.S/M", "OK", 42, "", "req-2", "");
  CaptureLogsForTest(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(
      lines[0],
      HasSubstr("\"msg\":\"rpc\",\"method\":\"/pkg.S/M\",\"code\":"
                "\"NotFound\",\"duration_ms\":1234.567,\"principal\":"
                "\"ada@example.com\",\"request_id\":\"req-1\",\"error\":"
                "\"people/x \\\"missing\\\"\"}"));
  EXPECT_THAT(lines[1], HasSubstr("\"duration_ms\":0.042,"));
  EXPECT_THAT(lines[1], Not(HasSubstr("error")));
  EXPECT_EQ(lines[0].substr(0, 7), "{\"ts\":\"");
}

TEST(RequestIdTest, ValidatesClientIds) {
  EXPECT_TRUE(IsValidRequestId("abc-123"));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId(std::string(200, 'a')));
  std::string a = NewRequestId();
  std::string b = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace sightline::telemetry
