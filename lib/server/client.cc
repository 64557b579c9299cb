#include "lib/server/client.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "lib/auth/jwt.h"
#include "lib/server/config.h"

namespace sightline::server {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeClientChannel(
    const std::string& target, const auth::ClientTlsConfig& tls,
    telemetry::Telemetry* telemetry) {
  auto creds = auth::MakeChannelCredentials(tls);
  if (!creds.ok()) return creds.status();
  grpc::ChannelArguments args;
  auth::ApplyChannelArguments(tls, &args);
  args.SetMaxReceiveMessageSize(64 << 20);
  // Notice a dead peer within seconds rather than waiting on TCP.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Every replica behind a name (dns:///people-headless:50051) takes calls, and
  // a replica reporting NOT_SERVING (draining on SIGTERM) gets no new ones.
  args.SetServiceConfigJSON(
      R"({"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}})");
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      f;
  if (telemetry != nullptr) {
    f.push_back(std::make_unique<telemetry::ClientInterceptorFactory>(
        &telemetry->client_metrics()));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, *creds, args, std::move(f));
}

absl::StatusOr<std::unique_ptr<ServiceToken>> ServiceToken::FromFile(
    std::string path) {
  std::unique_ptr<ServiceToken> t(new ServiceToken());
  t->path_ = std::move(path);
  auto h = t->Header();
  if (!h.ok()) return h.status();
  return t;
}

absl::StatusOr<std::unique_ptr<ServiceToken>> ServiceToken::SelfSigned(
    std::string subject, std::string secret, std::string issuer,
    std::string audience) {
  std::unique_ptr<ServiceToken> t(new ServiceToken());
  t->subject_ = std::move(subject);
  t->secret_ = std::move(secret);
  t->issuer_ = std::move(issuer);
  t->audience_ = std::move(audience);
  auto h = t->Header();
  if (!h.ok()) return h.status();
  return t;
}

absl::StatusOr<std::string> ServiceToken::Header() {
  absl::MutexLock lock(&mu_);
  if (!path_.empty()) {
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("service token file ", path_, " is missing"));
    }
    int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                    st.st_mtim.tv_nsec;
    if (mtime != file_mtime_) {
      auto token = auth::ReadKeyFile(path_);
      if (!token.ok()) return token.status();
      token_ = *token;
      file_mtime_ = mtime;
    }
  } else if (absl::Now() >= renew_at_) {
    auth::MintOptions o;
    o.key = secret_;
    o.subject = subject_;
    o.roles = {auth::Role::kService};
    o.issuer = issuer_;
    o.audience = audience_;
    o.ttl = absl::Hours(1);
    auto token = auth::Mint(o);
    if (!token.ok()) return token.status();
    token_ = *token;
    renew_at_ = absl::Now() + absl::Minutes(45);
  }
  return absl::StrCat("Bearer ", token_);
}

absl::Status ServiceToken::Prepare(grpc::ClientContext* ctx,
                                   absl::Duration timeout) {
  auto h = Header();
  if (!h.ok()) return h.status();
  ctx->AddMetadata("authorization", *h);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServiceToken>> ServiceTokenFor(
    const ServerConfig& config) {
  if (!config.service_token_file.empty()) {
    auto t = ServiceToken::FromFile(config.service_token_file);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--service_token_file: ", t.status().message()));
    }
    return t;
  }
  if (config.jwt_algorithm != "HS256") {
    return absl::InvalidArgumentError(
        "--service_token_file: required unless tokens are HS256 (a public key "
        "cannot sign)");
  }
  auto secret = auth::ReadKeyFile(config.jwt_key_file);
  if (!secret.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--jwt_key_file: ", secret.status().message()));
  }
  return ServiceToken::SelfSigned(absl::StrCat("service:", config.service),
                                  *secret, config.jwt_issuer,
                                  config.jwt_audience);
}

}  // namespace sightline::server
