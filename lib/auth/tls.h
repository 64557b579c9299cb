#pragma once

// TLS as a configuration switch: empty file names mean plaintext. Error
// messages name the flag at fault with the names below, so binaries should
// call their flags the same.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace sightline::auth {

// All empty = plaintext. cert and key = TLS. client_ca_file as well = mutual
// TLS: every client must present a certificate signed by that CA.
struct ServerTlsConfig {
  std::string cert_file;       // tls_cert_file: PEM chain, leaf first
  std::string key_file;        // tls_key_file: unencrypted PEM private key
  std::string client_ca_file;  // tls_client_ca_file
};

// INVALID_ARGUMENT naming the flag when a file is missing, empty, not PEM,
// when the key does not match the certificate, or when a needed file is not
// set ("tls_key_file: required when tls_cert_file is set").
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsConfig& config);

// All empty = plaintext; anything set = TLS.
struct ClientTlsConfig {
  std::string ca_file;    // tls_ca_file: roots to trust; empty = system roots
  std::string cert_file;  // tls_client_cert_file: present a client certificate
  std::string key_file;   // tls_client_key_file: its key (with cert_file)
  // tls_server_name_override: the name to check the server certificate
  // against instead of the target's host. Credentials cannot carry it: it
  // takes effect through ApplyChannelArguments or MakeChannel.
  std::string server_name_override;
};

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ClientTlsConfig& config);

// Adds what `config` needs besides credentials to `args`.
void ApplyChannelArguments(const ClientTlsConfig& config,
                           grpc::ChannelArguments* args);

// A channel to `target` with credentials and arguments from `config`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& target, const ClientTlsConfig& config,
    grpc::ChannelArguments args = {});

}  // namespace sightline::auth
