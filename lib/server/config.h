#pragma once

// Configuration shared by every service: command-line flags, each overridable
// by an environment variable SIGHTLINE_<FLAG> (e.g. SIGHTLINE_GRPC_ADDRESS).
// Precedence: a flag given on the command line, then the environment, then the
// service's default.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/auth/tls.h"
#include "lib/server/limits.h"

namespace sightline::server {

struct ServiceDefaults {
  std::string service;  // "people"
  std::string grpc_address;
  std::string metrics_address;
  std::string db;
};

struct ServerConfig {
  std::string service;
  std::string grpc_address;
  std::string metrics_address;  // empty: no /metrics endpoint
  std::string db;
  int db_pool_size = 8;
  absl::Duration sqlite_checkpoint_interval = absl::Seconds(1);
  std::string redis;  // empty: no cache

  // Bearer tokens.
  std::string jwt_algorithm;  // HS256 or RS256
  std::string jwt_key_file;   // HS256 secret, or RS256 public key (PEM)
  std::string jwt_issuer;
  std::string jwt_audience;

  auth::ServerTlsConfig tls;
  // Calls to other Sightline services: TLS towards them, and this service's
  // own token (empty: minted locally from the HS256 secret).
  auth::ClientTlsConfig peer_tls;
  std::string service_token_file;
  // Signs page and resume tokens; replicas behind one address must share it.
  std::string token_key_file;

  int max_receive_message_bytes = 4 << 20;
  int max_send_message_bytes = 16 << 20;
  int max_concurrent_streams = 200;
  absl::Duration keepalive_time = absl::Minutes(5);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration keepalive_min_client_interval = absl::Seconds(10);
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_idle = absl::ZeroDuration();

  int worker_threads = 16;
  int max_queued_calls = 5000;

  // Per caller (the token's subject): token buckets per method class and a
  // cap on running unary calls (lib/server/limits.h). Off by default here;
  // LoadConfig applies the flags' defaults.
  CallerLimitsConfig caller_limits;

  absl::Duration shutdown_drain = absl::ZeroDuration();
  absl::Duration shutdown_grace = absl::Seconds(20);

  std::string log_level;
  bool log_calls = true;
};

// Blocks SIGTERM/SIGINT in the calling thread (call it first in main, so every
// later thread inherits the mask), applies defaults and environment overrides,
// parses the command line, and validates. Service-specific flags defined with
// ABSL_FLAG elsewhere get environment overrides too.
absl::StatusOr<ServerConfig> LoadConfig(const ServiceDefaults& defaults,
                                        int argc, char** argv);

// Applies SIGHTLINE_<FLAG> variables to every registered flag not yet set on
// the command line (exposed for tools and tests).
void ApplyEnvironmentOverrides();

}  // namespace sightline::server
