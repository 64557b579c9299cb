#include "services/metrics/prometheus_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

using ::sightline::testing::InvalidNaming;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kAt = 1700000000250000;  // 2023-11-14T22:13:20.25Z

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string HttpResponse(int code, absl::string_view reason,
                         absl::string_view body, bool content_length = true) {
  std::string out = absl::StrCat("HTTP/1.1 ", code, " ", reason,
                                 "\r\nContent-Type: application/json\r\n");
  if (content_length)
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&out, "Connection: close\r\n\r\n", body);
  return out;
}

// A loopback HTTP server that answers every request with one canned
// response and remembers the last request's head.
class FakeHttpServer {
 public:
  FakeHttpServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  void Respond(std::string response) {
    absl::MutexLock lock(&mu_);
    response_ = std::move(response);
  }

  std::string last_request() {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      timeval tv{2, 0};
      setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos &&
             request.size() < 65536) {
        ssize_t n = recv(conn, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string response;
      {
        absl::MutexLock lock(&mu_);
        last_request_ = request;
        response = response_;
      }
      size_t sent = 0;
      while (sent < response.size()) {
        ssize_t n = send(conn, response.data() + sent, response.size() - sent,
                         MSG_NOSIGNAL);
        if (n <= 0) break;  // the client hung up (e.g. past its size cap)
        sent += static_cast<size_t>(n);
      }
      shutdown(conn, SHUT_WR);
      close(conn);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::string response_ ABSL_GUARDED_BY(mu_);
  std::string last_request_ ABSL_GUARDED_BY(mu_);
};

PrometheusOptions Options(std::string url) {
  PrometheusOptions options;
  options.base_url = std::move(url);
  options.timeout = absl::Seconds(10);
  return options;
}

// --- a real Prometheus -----------------------------------------------------

TEST(PrometheusClientTest, QueriesARealPrometheusScrapingItself) {
  const std::string dir = testing::MakeTempDir("sightline-prom");
  ASSERT_FALSE(dir.empty());
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { testing::RemoveTree(dir); }
  } remove_dir{dir};
  testing::PrometheusServer server(dir);
  ASSERT_THAT(server.Start(), IsOk());
  const std::string address = absl::StrCat("127.0.0.1:", server.port());

  PrometheusClient client(Options("http://" + address));
  // Up once Prometheus has scraped itself at least once.
  absl::StatusOr<PromSample> up = absl::UnavailableError("not asked yet");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (int attempt = 0; attempt < 300 && absl::Now() < deadline; ++attempt) {
    ASSERT_TRUE(server.process()->Running()) << "prometheus exited:\n"
                                             << server.process()->Log();
    up = client.QueryInstant("up{job=\"self\"}", NowMicros());
    if (up.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_THAT(up, IsOk()) << server.process()->Log();
  EXPECT_EQ(up->value, 1);

  const int64_t now = NowMicros();
  auto at_now = client.QueryInstant("up{job=\"self\"}", now);
  ASSERT_THAT(at_now, IsOk());
  EXPECT_EQ(at_now->value, 1);
  // Prometheus evaluates at millisecond precision.
  EXPECT_LE(std::llabs(at_now->time_micros - now), 1000);

  auto summed = client.QueryInstant("sum(up{job=\"self\"})", now);
  ASSERT_THAT(summed, IsOk());
  EXPECT_EQ(summed->value, 1);

  // The Go runtime's GC summary has one series per quantile.
  auto count =
      client.QueryInstant("count(go_gc_duration_seconds{job=\"self\"})", now);
  ASSERT_THAT(count, IsOk());
  ASSERT_GT(count->value, 1);
  EXPECT_THAT(
      client.QueryInstant("go_gc_duration_seconds{job=\"self\"}", now),
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          AllOf(HasSubstr(absl::StrCat(
                    "returned ", static_cast<int>(count->value), " series")),
                HasSubstr("sum(...)"))));

  EXPECT_THAT(client.QueryInstant("absent_metric_xyz", now),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("query returned no sample")));
  EXPECT_THAT(
      client.QueryInstant("sum(", now),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parse error")));
  // An execution error (HTTP 422) is the query's fault too.
  EXPECT_THAT(client.QueryInstant(
                  "go_gc_duration_seconds + on() go_gc_duration_seconds", now),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate series")));

  // Scalars, NaN, infinities, ranges and strings as Prometheus writes them.
  auto scalar = client.QueryInstant("scalar(up{job=\"self\"}) * 2.5", now);
  ASSERT_THAT(scalar, IsOk());
  EXPECT_EQ(scalar->value, 2.5);
  EXPECT_THAT(client.QueryInstant("0/0", now),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("query returned no sample")));
  EXPECT_THAT(
      client.QueryInstant("sum(up{job=\"self\"}) / 0", now),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("+Inf")));
  EXPECT_THAT(
      client.QueryInstant("-1/0", now),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("-Inf")));
  EXPECT_THAT(client.QueryInstant("up{job=\"self\"}[1m]", now),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("range vector")));
  EXPECT_THAT(
      client.QueryInstant("\"text\"", now),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("string")));

  const pid_t pid = server.process()->pid();
  const int wait_status = server.process()->Stop(absl::Seconds(15));
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
      << "prometheus (pid " << pid << ") ended with wait status " << wait_status
      << ":\n"
      << server.process()->Log();
  EXPECT_FALSE(server.process()->Running());
  // Once stopped, the same client reports the server as unavailable.
  EXPECT_THAT(client.QueryInstant("up", NowMicros()),
              StatusIs(absl::StatusCode::kUnavailable));
}

// --- servers that are not there or not Prometheus --------------------------

TEST(PrometheusClientTest, ClosedPortIsUnavailable) {
  const int port = testing::FreePort();
  ASSERT_NE(port, 0);
  PrometheusClient client(Options(absl::StrCat("http://127.0.0.1:", port)));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("127.0.0.1:", port))));
}

TEST(PrometheusClientTest, SilentServerTimesOutAsUnavailable) {
  // Listens but never accepts: the kernel completes the handshake, nobody
  // answers.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  PrometheusOptions options =
      Options(absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port)));
  options.timeout = absl::Milliseconds(300);
  PrometheusClient client(options);
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("timed out")));
  close(fd);
}

TEST(PrometheusClientTest, SendsTheQueryTimeAndToken) {
  FakeHttpServer server;
  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"job":"x"},"value":[1700000000.25,"0.9995"]}]}})"));
  PrometheusOptions options = Options(server.url() + "/prom/");
  options.bearer_token = "s3cret-token";
  PrometheusClient client(options);
  auto sample = client.QueryInstant("sum(rate(x{a=\"b c\"}[5m]))", kAt);
  ASSERT_THAT(sample, IsOk());
  EXPECT_EQ(sample->value, 0.9995);
  EXPECT_EQ(sample->time_micros, kAt);
  const std::string request = server.last_request();
  EXPECT_TRUE(absl::StartsWith(
      request,
      "GET /prom/api/v1/query?query=sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D"
      "%29%29&time=1700000000.250000 HTTP/1.1\r\n"))
      << request;
  EXPECT_THAT(request, HasSubstr("\r\nAuthorization: Bearer s3cret-token\r\n"));

  // Times before a whole second and before the epoch keep their fraction.
  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"scalar","result":[-1.5,"7"]}})"));
  auto before_epoch = client.QueryInstant("7", -1500000);
  ASSERT_THAT(before_epoch, IsOk());
  EXPECT_EQ(before_epoch->time_micros, -1500000);
  EXPECT_EQ(before_epoch->value, 7);
  EXPECT_THAT(server.last_request(), HasSubstr("&time=-2.500000 HTTP/1.1"));
}

TEST(PrometheusClientTest, AnswersThatAreNotPrometheusJsonAreUnavailable) {
  FakeHttpServer server;
  PrometheusClient client(Options(server.url()));
  const auto kNotApi = HasSubstr(
      "prometheus answered something that is not its query API's "
      "JSON");

  server.Respond(HttpResponse(200, "OK", "\x01garbage{{{ not json"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, kNotApi));

  server.Respond(HttpResponse(200, "OK", "<html><body>Grafana</body></html>"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, kNotApi));

  server.Respond(HttpResponse(200, "OK", ""));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, kNotApi));

  for (
      const char* wrong_shape : {
          R"({"hello":"world"})",
          R"([1,2,3])",
          R"({"status":"success"})",
          R"({"status":"success","data":[]})",
          R"({"status":"success","data":{"resultType":"vector"}})",
          R"({"status":"success","data":{"resultType":"vector","result":{}}})",
          R"({"status":"success","data":{"resultType":"vector","result":[7]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,1]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"value":["1","1"]}]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"one"]}]}})",
          R"({"status":"success","data":{"resultType":"scalar","result":[1]}})",
          R"({"status":"success","data":{"resultType":"scalar","result":"1"}})",
          R"({"status":"success","data":{"resultType":"table","result":[]}})",
          R"({"status":"pending","data":{}})",
      }) {
    server.Respond(HttpResponse(200, "OK", wrong_shape));
    EXPECT_THAT(client.QueryInstant("up", kAt),
                StatusIs(absl::StatusCode::kUnavailable, kNotApi))
        << wrong_shape;
  }

  // 4xx without Prometheus' error object: a wrong URL or a proxy, not bad
  // PromQL.
  server.Respond(HttpResponse(404, "Not Found", "404 page not found"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(kNotApi, HasSubstr("HTTP 404"))));
}

TEST(PrometheusClientTest, ServerErrorsAreUnavailable) {
  FakeHttpServer server;
  PrometheusClient client(Options(server.url()));
  server.Respond(HttpResponse(503, "Service Unavailable", "overloaded"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("HTTP 503"), HasSubstr("overloaded"))));

  server.Respond(HttpResponse(
      503, "Service Unavailable",
      R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("query timed out in expression evaluation")));

  server.Respond(HttpResponse(500, "Internal Server Error", ""));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("HTTP 500")));

  // A redirect is not followed (the token would go along).
  server.Respond(
      "HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\n"
      "Content-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("HTTP 302")));
}

TEST(PrometheusClientTest, PrometheusErrorObjectIsInvalidArgument) {
  FakeHttpServer server;
  PrometheusClient client(Options(server.url()));
  server.Respond(HttpResponse(
      400, "Bad Request",
      R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"})"));
  EXPECT_THAT(client.QueryInstant("sum(", kAt),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unclosed left parenthesis"),
                             HasSubstr("bad_data"))));
}

TEST(PrometheusClientTest, NonFiniteAndMissingValuesAreNeverNumbers) {
  FakeHttpServer server;
  PrometheusClient client(Options(server.url()));

  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}})"));
  EXPECT_THAT(
      client.QueryInstant("1/0", kAt),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("+Inf")));

  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"-Inf"]}]}})"));
  EXPECT_THAT(
      client.QueryInstant("-1/0", kAt),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("-Inf")));

  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}})"));
  EXPECT_THAT(client.QueryInstant("0/0", kAt),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("query returned no sample")));

  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"vector","result":[]}})"));
  EXPECT_THAT(client.QueryInstant("nothing", kAt),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("query returned no sample")));

  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]},)"
      R"({"metric":{"a":"3"},"value":[1,"3"]}]}})"));
  EXPECT_THAT(client.QueryInstant("x", kAt),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("query returned 3 series; aggregate it to "
                                 "one, e.g. sum(...)")));
}

TEST(PrometheusClientTest, LongAnswersAreCutOffAsUnavailable) {
  FakeHttpServer server;
  // Announced length over the default 4 MiB cap.
  const std::string big(size_t{5} << 20, ' ');
  server.Respond(HttpResponse(200, "OK", big));
  PrometheusClient client(Options(server.url()));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("answered more than 4194304 bytes")));

  // No announced length: counted while reading.
  PrometheusOptions small = Options(server.url());
  small.max_response_bytes = 1024;
  PrometheusClient small_client(small);
  server.Respond(HttpResponse(200, "OK", std::string(4096, ' '),
                              /*content_length=*/false));
  EXPECT_THAT(small_client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("answered more than 1024 bytes")));
}

TEST(PrometheusClientTest, ErrorTextsNeverCarryTheToken) {
  FakeHttpServer server;
  PrometheusOptions options = Options(server.url());
  options.bearer_token = "tok-9f8e7d6c5b4a";
  PrometheusClient client(options);
  // A proxy that echoes the request it got.
  server.Respond(HttpResponse(
      200, "OK", "you sent: Authorization: Bearer tok-9f8e7d6c5b4a"));
  auto garbage = client.QueryInstant("up", kAt);
  EXPECT_THAT(garbage, StatusIs(absl::StatusCode::kUnavailable,
                                AllOf(HasSubstr("<redacted>"),
                                      Not(HasSubstr("tok-9f8e7d6c5b4a")))));
  server.Respond(HttpResponse(
      400, "Bad Request",
      R"({"status":"error","errorType":"bad_data","error":"unknown token tok-9f8e7d6c5b4a"})"));
  EXPECT_THAT(client.QueryInstant("up", kAt),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Not(HasSubstr("tok-9f8e7d6c5b4a"))));

  // Nor a password written into the URL.
  PrometheusClient with_password(Options(
      absl::StrCat("http://user:pa55word@127.0.0.1:", testing::FreePort())));
  EXPECT_THAT(
      with_password.QueryInstant("up", kAt),
      StatusIs(absl::StatusCode::kUnavailable, Not(HasSubstr("pa55word"))));

  PrometheusOptions bad_token = Options(server.url());
  bad_token.bearer_token = "abc\r\nX-Injected: 1";
  EXPECT_THAT(PrometheusClient(bad_token).QueryInstant("up", kAt),
              AllOf(InvalidNaming("bearer_token"),
                    StatusIs(absl::StatusCode::kInvalidArgument,
                             Not(HasSubstr("Injected")))));
}

TEST(PrometheusClientTest, ConcurrentQueriesShareOneClient) {
  FakeHttpServer server;
  server.Respond(HttpResponse(
      200, "OK",
      R"({"status":"success","data":{"resultType":"scalar","result":[1,"42"]}})"));
  PrometheusClient client(Options(server.url()));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto s = client.QueryInstant("42", kAt);
        if (s.ok() && s->value == 42) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
}

// --- configuration -----------------------------------------------------------

TEST(ValidatePrometheusUrlTest, AcceptsHttpAndHttpsWithAHost) {
  for (const char* url :
       {"http://localhost:9090", "https://prometheus.example.com",
        "http://127.0.0.1:9090/", "https://ops.example.com/prometheus",
        "HTTP://Prom:9090", "http://[::1]:9090", "http://u:p@prom:9090"}) {
    EXPECT_THAT(ValidatePrometheusUrl(url), IsOk()) << url;
  }
}

TEST(ValidatePrometheusUrlTest, RefusesAnythingElseNamingTheFlag) {
  for (const char* url :
       {"", "localhost:9090", "prom:9090/api", "ftp://prom:9090",
        "file:///etc/passwd", "unix:///run/prom.sock", "http://", "http:///api",
        "https://:9090", "http://prom:9090/?x=1", "http://prom:9090/#top",
        "http://prom 9090", " http://prom:9090", "http://prom:9090\n",
        "//prom:9090", "http:prom"}) {
    EXPECT_THAT(ValidatePrometheusUrl(url), InvalidNaming("prometheus_url"))
        << "'" << url << "'";
  }
}

TEST(ValidatePrometheusUrlTest, ClientWithABadUrlAnswersWithTheSameError) {
  PrometheusClient client(Options("ftp://prom"));
  EXPECT_THAT(client.QueryInstant("up", kAt), InvalidNaming("prometheus_url"));
}

}  // namespace
}  // namespace sightline::metrics
