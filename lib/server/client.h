#pragma once

// Calls from one Sightline service to another: a channel with TLS per the
// configuration and the grpc_client_* metrics, and the bearer token the calling
// service presents.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "lib/auth/tls.h"
#include "lib/telemetry/telemetry.h"

namespace sightline::server {

// A channel to `target` whose calls are counted in telemetry's client metrics.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const auth::ClientTlsConfig& tls,
    telemetry::Telemetry* telemetry);

// The token a service presents to the services it calls. Either read from a
// file (a token issued by the company's identity provider; re-read when the
// file changes, so it can be rotated), or, when the deployment uses an HS256
// shared secret, minted locally with the `service` role and renewed before it
// expires.
class ServiceToken {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceToken>> FromFile(
      std::string path);
  static absl::StatusOr<std::unique_ptr<ServiceToken>> SelfSigned(
      std::string subject, std::string hs256_secret, std::string issuer,
      std::string audience);
  // "Bearer ..." for the authorization metadata.
  absl::StatusOr<std::string> Header();
  // Adds the authorization header and a deadline to a client context.
  absl::Status Prepare(grpc::ClientContext* ctx, absl::Duration timeout);

 private:
  ServiceToken() = default;
  absl::Mutex mu_;
  std::string path_;
  std::string subject_, secret_, issuer_, audience_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  absl::Time renew_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t file_mtime_ ABSL_GUARDED_BY(mu_) = -1;
};

// The token this service presents to others, from the configuration: the
// --service_token_file, or minted with the HS256 secret as `service:<name>`.
struct ServerConfig;
absl::StatusOr<std::unique_ptr<ServiceToken>> ServiceTokenFor(
    const ServerConfig& config);

}  // namespace sightline::server
