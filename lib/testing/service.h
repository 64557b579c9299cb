#pragma once

// Cross-process test kit: a service binary on loopback ports the test chose,
// bearer tokens signed with a throwaway secret, throwaway TLS certificates, and
// a /metrics scrape. Every service test in tests/ builds on these.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "lib/auth/principal.h"
#include "lib/testing/harness.h"

namespace sightline::testing {

// In `dir`: ca.pem/key, server.pem/key (localhost, 127.0.0.1), client.pem/key
// signed by ca; other_ca.pem and rogue.pem/key, a client from an untrusted CA.
absl::Status MakeTestCertificates(const std::string& dir);

class ServiceProcess {
 public:
  // Starts `binary` with --grpc_address and --metrics_address on free loopback
  // ports plus `args`, logging to dir/<name>.log, and waits until SERVING
  // (unless `wait` is false, e.g. for TLS servers).
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      const std::string& dir, const std::string& name,
      const std::string& binary, std::vector<std::string> args,
      bool wait = true);

  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  Process* process() { return process_.get(); }
  std::string Log() const { return ReadFile(log_path_); }
  bool running() const { return process_ != nullptr && process_->Running(); }

  // SIGTERM and wait; returns the wait status.
  int Stop();
  // Starts again on the same ports with the same arguments.
  absl::Status Restart();

  std::shared_ptr<grpc::Channel> Channel() const;
  // GET /metrics, or an error.
  absl::StatusOr<std::string> ScrapeMetrics() const;

 private:
  ServiceProcess() = default;
  absl::Status Launch(bool wait);

  std::string name_, binary_, log_path_;
  std::vector<std::string> args_;
  int grpc_port_ = 0, metrics_port_ = 0;
  std::unique_ptr<Process> process_;
};

// Tokens signed with a throwaway HS256 secret (written to dir/jwt.secret).
class TestTokens {
 public:
  explicit TestTokens(const std::string& dir);
  const std::string& secret_file() const { return secret_file_; }
  std::string Mint(const std::string& subject, std::vector<auth::Role> roles,
                   absl::Duration ttl = absl::Hours(1)) const;
  std::string Expired(const std::string& subject) const;
  std::string SignedWithOtherSecret(const std::string& subject) const;

 private:
  std::string secret_;
  std::string secret_file_;
};

// Adds "authorization: Bearer <token>" and a deadline of `timeout`.
void Authorize(grpc::ClientContext* ctx, const std::string& token,
               absl::Duration timeout = absl::Seconds(20));

// Reads a counter or gauge sample ("name{labels}") from a Prometheus text
// exposition; -1 when absent.
double MetricValue(const std::string& exposition, const std::string& series);

// How many times `what` occurs in `text` (lines of a log, say).
size_t Count(absl::string_view text, absl::string_view what);

}  // namespace sightline::testing
