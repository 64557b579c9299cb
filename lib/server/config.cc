#include "lib/server/config.h"

#include <signal.h>

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

ABSL_FLAG(std::string, grpc_address, "",
          "Address the gRPC server listens on (host:port).");
ABSL_FLAG(std::string, metrics_address, "",
          "Address of the Prometheus /metrics endpoint; empty disables it.");
ABSL_FLAG(
    std::string, db, "",
    "Database: a SQLite file path (embedded default) or a postgresql:// URL.");
ABSL_FLAG(int, db_pool_size, 8, "Database connections per process.");
ABSL_FLAG(absl::Duration, sqlite_checkpoint_interval, absl::Seconds(1),
          "SQLite: how often a background thread copies the write-ahead log "
          "into the database; 0 leaves it to SQLite, inside commits.");
ABSL_FLAG(std::string, redis, "",
          "Redis URL for the shared cache (redis://host:port); "
          "empty runs without a cache.");
ABSL_FLAG(std::string, jwt_algorithm, "HS256",
          "Bearer token algorithm: HS256 or RS256.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "HS256: file holding the shared secret. RS256: PEM public key file.");
ABSL_FLAG(std::string, jwt_issuer, "",
          "Required `iss` of tokens (empty: not checked).");
ABSL_FLAG(std::string, jwt_audience, "",
          "Required `aud` of tokens (empty: not checked).");
ABSL_FLAG(std::string, tls_cert_file, "",
          "Server certificate (PEM); enables TLS.");
ABSL_FLAG(std::string, tls_key_file, "", "Server private key (PEM).");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "CA bundle for client certificates; when set, clients must present "
          "one (mTLS).");
ABSL_FLAG(std::string, peer_tls_ca_file, "",
          "CA bundle to trust when calling other Sightline services; enables "
          "TLS to them.");
ABSL_FLAG(std::string, peer_tls_cert_file, "",
          "Client certificate presented to other services (mTLS).");
ABSL_FLAG(std::string, peer_tls_key_file, "", "Key of --peer_tls_cert_file.");
ABSL_FLAG(
    std::string, peer_tls_server_name, "",
    "Name expected in other services' certificates, when not their host name.");
ABSL_FLAG(std::string, service_token_file, "",
          "Bearer token this service presents to others (re-read when the file "
          "changes). "
          "Empty: minted locally with the HS256 secret.");
ABSL_FLAG(std::string, token_key_file, "",
          "Key that signs page and resume tokens; empty = random per process.");
ABSL_FLAG(int, max_receive_message_bytes, 4 << 20,
          "Largest request message accepted.");
ABSL_FLAG(int, max_send_message_bytes, 16 << 20,
          "Largest response message sent.");
ABSL_FLAG(int, max_concurrent_streams, 200,
          "HTTP/2 streams allowed per connection.");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Minutes(5),
          "Ping an idle client connection after this long.");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(20),
          "Close a connection whose ping is not answered within this.");
ABSL_FLAG(absl::Duration, keepalive_min_client_interval, absl::Seconds(10),
          "Clients pinging more often than this are disconnected.");
ABSL_FLAG(
    absl::Duration, max_connection_age, absl::ZeroDuration(),
    "Close connections older than this, so clients rebalance (0 = never).");
ABSL_FLAG(absl::Duration, max_connection_idle, absl::ZeroDuration(),
          "Close connections idle for this long (0 = never).");
ABSL_FLAG(int, worker_threads, 16,
          "Threads that run handlers (blocking SQL/Redis work).");
ABSL_FLAG(int, max_queued_calls, 5000,
          "Calls waiting for a worker before new ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(double, caller_read_rate, 2000,
          "Reads (Get, List, Query, Watch...) per second per caller; 0 = no "
          "limit.");
ABSL_FLAG(double, caller_read_burst, 4000,
          "Reads a caller may make at once after a pause (bucket size).");
ABSL_FLAG(double, caller_write_rate, 500,
          "Writes (Create, Update, Delete...) per second per caller; 0 = no "
          "limit.");
ABSL_FLAG(double, caller_write_burst, 1000,
          "Writes a caller may make at once after a pause.");
ABSL_FLAG(double, caller_sync_rate, 5,
          "Syncs and imports per second per caller; 0 = no limit.");
ABSL_FLAG(double, caller_sync_burst, 50,
          "Syncs a caller may start at once after a pause.");
ABSL_FLAG(int, caller_max_concurrent_calls, 500,
          "Unary calls one caller may have running at once; 0 = no cap.");
ABSL_FLAG(int, caller_max_open_streams, 100,
          "Streams (Watch, trees, syncs) one caller may have open at once; 0 = "
          "no cap.");
ABSL_FLAG(int, caller_limits_tracked, 100000,
          "Callers whose limits are held in memory; beyond, the idle are "
          "forgotten.");
ABSL_FLAG(bool, caller_limits_services, false,
          "Also limit calls made with a service token (other services, "
          "carrying many users' work).");
ABSL_FLAG(
    absl::Duration, shutdown_drain, absl::ZeroDuration(),
    "After SIGTERM, report NOT_SERVING for this long before refusing calls.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "How long in-flight calls may take to finish during shutdown.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");
ABSL_FLAG(bool, log_calls, true, "Write one JSON log line per RPC.");

namespace sightline::server {
namespace {

bool OnCommandLine(absl::string_view name, int argc, char** argv) {
  std::string a = absl::StrCat("--", name), b = absl::StrCat("-", name);
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    for (const std::string& p : {a, b}) {
      if (arg == p || absl::StartsWith(arg, p + "=")) return true;
    }
    if (arg == absl::StrCat("--no", name)) return true;
  }
  return false;
}

int g_argc = 0;
char** g_argv = nullptr;

}  // namespace

void ApplyEnvironmentOverrides() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (g_argv != nullptr && OnCommandLine(name, g_argc, g_argv)) continue;
    std::string var = absl::StrCat("SIGHTLINE_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      // Reported by LoadConfig's validation of the resulting value; keep going.
      std::fprintf(stderr, "%s: %s\n", var.c_str(), error.c_str());
    }
  }
}

absl::StatusOr<ServerConfig> LoadConfig(const ServiceDefaults& defaults,
                                        int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Debian builds Abseil with mutex deadlock detection on, a debugging aid that
  // costs every lock (gRPC's included). Production binaries turn it off; unit
  // tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  static bool usage_set = false;
  if (!usage_set) {
    usage_set = true;
    absl::SetProgramUsageMessage(absl::StrCat(
        "Sightline ", defaults.service,
        " service. Every flag can also be set with SIGHTLINE_<FLAG>."));
  }
  absl::SetFlag(&FLAGS_grpc_address, defaults.grpc_address);
  absl::SetFlag(&FLAGS_metrics_address, defaults.metrics_address);
  absl::SetFlag(&FLAGS_db, defaults.db);
  g_argc = argc;
  g_argv = argv;
  ApplyEnvironmentOverrides();
  absl::ParseCommandLine(argc, argv);

  ServerConfig c;
  c.service = defaults.service;
  c.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  c.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  c.db = absl::GetFlag(FLAGS_db);
  c.db_pool_size = absl::GetFlag(FLAGS_db_pool_size);
  c.sqlite_checkpoint_interval =
      absl::GetFlag(FLAGS_sqlite_checkpoint_interval);
  c.redis = absl::GetFlag(FLAGS_redis);
  c.jwt_algorithm = absl::GetFlag(FLAGS_jwt_algorithm);
  c.jwt_key_file = absl::GetFlag(FLAGS_jwt_key_file);
  c.jwt_issuer = absl::GetFlag(FLAGS_jwt_issuer);
  c.jwt_audience = absl::GetFlag(FLAGS_jwt_audience);
  c.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  c.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  c.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  c.token_key_file = absl::GetFlag(FLAGS_token_key_file);
  c.peer_tls.ca_file = absl::GetFlag(FLAGS_peer_tls_ca_file);
  c.peer_tls.cert_file = absl::GetFlag(FLAGS_peer_tls_cert_file);
  c.peer_tls.key_file = absl::GetFlag(FLAGS_peer_tls_key_file);
  c.peer_tls.server_name_override = absl::GetFlag(FLAGS_peer_tls_server_name);
  c.service_token_file = absl::GetFlag(FLAGS_service_token_file);
  c.max_receive_message_bytes = absl::GetFlag(FLAGS_max_receive_message_bytes);
  c.max_send_message_bytes = absl::GetFlag(FLAGS_max_send_message_bytes);
  c.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  c.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  c.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  c.keepalive_min_client_interval =
      absl::GetFlag(FLAGS_keepalive_min_client_interval);
  c.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  c.max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  c.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  c.max_queued_calls = absl::GetFlag(FLAGS_max_queued_calls);
  CallerLimitsConfig& limits = c.caller_limits;
  limits.rate[static_cast<int>(MethodClass::kRead)] = {
      absl::GetFlag(FLAGS_caller_read_rate),
      absl::GetFlag(FLAGS_caller_read_burst)};
  limits.rate[static_cast<int>(MethodClass::kWrite)] = {
      absl::GetFlag(FLAGS_caller_write_rate),
      absl::GetFlag(FLAGS_caller_write_burst)};
  limits.rate[static_cast<int>(MethodClass::kSync)] = {
      absl::GetFlag(FLAGS_caller_sync_rate),
      absl::GetFlag(FLAGS_caller_sync_burst)};
  limits.max_concurrent_calls =
      absl::GetFlag(FLAGS_caller_max_concurrent_calls);
  limits.max_open_streams = absl::GetFlag(FLAGS_caller_max_open_streams);
  limits.max_tracked = absl::GetFlag(FLAGS_caller_limits_tracked);
  limits.limit_services = absl::GetFlag(FLAGS_caller_limits_services);
  c.shutdown_drain = absl::GetFlag(FLAGS_shutdown_drain);
  c.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  c.log_level = absl::GetFlag(FLAGS_log_level);
  c.log_calls = absl::GetFlag(FLAGS_log_calls);

  auto bad = [](absl::string_view flag, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", rule));
  };
  if (c.grpc_address.empty()) return bad("grpc_address", "must be set");
  if (c.db.empty()) return bad("db", "must be set");
  if (c.jwt_key_file.empty())
    return bad("jwt_key_file", "must be set (tokens are always verified)");
  if (c.jwt_algorithm != "HS256" && c.jwt_algorithm != "RS256") {
    return bad("jwt_algorithm", "must be HS256 or RS256");
  }
  if (c.max_receive_message_bytes < 1024)
    return bad("max_receive_message_bytes", "must be >= 1024");
  if (c.max_send_message_bytes < 1024)
    return bad("max_send_message_bytes", "must be >= 1024");
  if (c.max_concurrent_streams < 1)
    return bad("max_concurrent_streams", "must be >= 1");
  if (c.worker_threads < 1 || c.worker_threads > 1024)
    return bad("worker_threads", "must be 1..1024");
  if (c.max_queued_calls < 1) return bad("max_queued_calls", "must be >= 1");
  for (int i = 0; i < kMethodClasses; ++i) {
    const std::string cls(MethodClassName(static_cast<MethodClass>(i)));
    const RateLimit& r = limits.rate[i];
    // NaN fails both comparisons below.
    if (!(r.per_second >= 0))
      return bad(absl::StrCat("caller_", cls, "_rate"), "must be >= 0");
    if (!(r.burst >= 0))
      return bad(absl::StrCat("caller_", cls, "_burst"), "must be >= 0");
    if (r.per_second > 0 && r.burst < 1)
      return bad(absl::StrCat("caller_", cls, "_burst"),
                 "must be >= 1 when the rate is set");
  }
  if (limits.max_concurrent_calls < 0)
    return bad("caller_max_concurrent_calls", "must be >= 0");
  if (limits.max_open_streams < 0)
    return bad("caller_max_open_streams", "must be >= 0");
  if (limits.max_tracked < 1)
    return bad("caller_limits_tracked", "must be >= 1");
  if (c.keepalive_time <= absl::ZeroDuration())
    return bad("keepalive_time", "must be positive");
  if (c.keepalive_timeout <= absl::ZeroDuration())
    return bad("keepalive_timeout", "must be positive");
  if (c.db_pool_size < 1) return bad("db_pool_size", "must be at least 1");
  if (c.sqlite_checkpoint_interval < absl::ZeroDuration())
    return bad("sqlite_checkpoint_interval", "must not be negative");
  if (c.shutdown_grace < absl::ZeroDuration())
    return bad("shutdown_grace", "must not be negative");
  if (c.shutdown_drain < absl::ZeroDuration())
    return bad("shutdown_drain", "must not be negative");
  return c;
}

}  // namespace sightline::server
