#pragma once

// Real processes for cross-process tests: the service binaries, redis-server
// and PostgreSQL, each on a loopback port the test chose, each stopped by its
// pid. Children get SIGKILL if the test process dies, so nothing outlives a
// crash.

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sightline::testing {

// A loopback TCP port that was free a moment ago.
int FreePort();

// A fresh directory under $TMPDIR (or /tmp), removed by the caller.
std::string MakeTempDir(absl::string_view prefix);
void RemoveTree(const std::string& path);

// Reads a whole file; empty if it does not exist.
std::string ReadFile(const std::string& path);

struct ProcessOptions {
  std::vector<std::string> argv;
  // stdout and stderr go here (appended).
  std::string log_path;
  std::map<std::string, std::string> env;  // added to the parent's environment
  // Run as this user (by name) when the test runs as root; empty = as is.
  std::string run_as;
  std::string working_dir;
};

class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(ProcessOptions options);
  ~Process();

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  absl::Status Signal(int sig);
  // The exit status as waitpid reports it, or an error on timeout.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the wait status.
  int Stop(absl::Duration grace = absl::Seconds(15));
  const std::string& log_path() const { return log_path_; }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  Process(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// redis-server in the foreground, no persistence, on 127.0.0.1.
class RedisServer {
 public:
  explicit RedisServer(std::string dir) : dir_(std::move(dir)) {}
  ~RedisServer() { Stop(); }
  // Starts on `port` (0 = pick one); waits until it answers PING.
  absl::Status Start(int port = 0);
  void Stop();
  // SIGSTOP / SIGCONT: Redis that is there but does not answer.
  absl::Status Pause();
  absl::Status Resume();
  int port() const { return port_; }
  std::string url() const;
  bool running() const { return process_ != nullptr; }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// A throwaway PostgreSQL cluster (initdb + postgres in the foreground, run as
// the postgres user when the test is root), fsync off: fine for tests only.
class PostgresServer {
 public:
  explicit PostgresServer(std::string dir) : dir_(std::move(dir)) {}
  ~PostgresServer() { Stop(); }
  absl::Status Start();
  void Stop();
  // Starts a stopped server again on the same data and port.
  absl::Status Restart();
  // Creates a database and returns its postgresql:// URL.
  absl::StatusOr<std::string> CreateDatabase(absl::string_view name);
  int port() const { return port_; }

 private:
  std::string dir_;
  absl::Status Launch();

  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// A real Prometheus (Debian's /usr/bin/prometheus) on 127.0.0.1, scraping
// `targets` ("host:port" of /metrics endpoints; itself when empty) every
// second, with its data in `dir`.
class PrometheusServer {
 public:
  explicit PrometheusServer(std::string dir) : dir_(std::move(dir)) {}
  ~PrometheusServer() { Stop(); }
  // Starts and waits until /-/ready answers 200. FAILED_PRECONDITION naming
  // scripts/install-deps.sh when the binary is missing.
  absl::Status Start(const std::vector<std::string>& targets = {});
  // Stops by pid; the wait status.
  int Stop();
  int port() const { return port_; }
  std::string url() const;
  Process* process() { return process_.get(); }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

// An HTTP/1.0 GET on 127.0.0.1:port: the status code and body, or an error
// when nothing answers.
absl::StatusOr<std::pair<int, std::string>> HttpGet(int port,
                                                    const std::string& path);

// Polls grpc.health.v1.Health/Check on `address` until it reports SERVING
// for `service` ("": the server as a whole; a service name: ready, warm).
absl::Status WaitForServing(const std::string& address, absl::Duration timeout,
                            Process* process = nullptr,
                            const std::string& service = "");

// Absolute path of a binary built by this project, from the environment
// variable `env_var` (set by CMake for each test), or an error naming it.
std::string BinaryPath(absl::string_view env_var);

}  // namespace sightline::testing
