#include "lib/auth/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/create_channel.h"
#include "lib/auth/internal.h"
#include "lib/status/status.h"

namespace sightline::auth {
namespace {

absl::StatusOr<std::string> ReadPemFile(absl::string_view field,
                                        const std::string& path) {
  absl::StatusOr<std::string> data = internal::ReadWholeFile(path);
  if (!data.ok()) return status::InvalidField(field, data.status().message());
  if (data->empty()) {
    return status::InvalidField(field, absl::StrCat(path, " is empty"));
  }
  return data;
}

absl::StatusOr<std::string> ReadCaFile(absl::string_view field,
                                       const std::string& path) {
  absl::StatusOr<std::string> pem = ReadPemFile(field, path);
  if (!pem.ok()) return pem.status();
  if (internal::ParseCertificate(*pem) == nullptr) {
    return status::InvalidField(field,
                                absl::StrCat("no PEM certificate in ", path));
  }
  return pem;
}

struct KeyCertFiles {
  absl::string_view cert_field;
  const std::string& cert_path;
  absl::string_view key_field;
  const std::string& key_path;
};

struct KeyCertPem {
  std::string key, cert;
};

// Both set or neither (nullopt); a key that matches its certificate.
absl::StatusOr<std::optional<KeyCertPem>> ReadKeyCertPair(
    const KeyCertFiles& files) {
  if (files.cert_path.empty() && files.key_path.empty()) return std::nullopt;
  if (files.cert_path.empty()) {
    return status::InvalidField(
        files.cert_field,
        absl::StrCat("required when ", files.key_field, " is set"));
  }
  if (files.key_path.empty()) {
    return status::InvalidField(
        files.key_field,
        absl::StrCat("required when ", files.cert_field, " is set"));
  }
  absl::StatusOr<std::string> cert_pem =
      ReadPemFile(files.cert_field, files.cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem =
      ReadPemFile(files.key_field, files.key_path);
  if (!key_pem.ok()) return key_pem.status();
  internal::X509Ptr cert = internal::ParseCertificate(*cert_pem);
  if (cert == nullptr) {
    return status::InvalidField(
        files.cert_field,
        absl::StrCat("no PEM certificate in ", files.cert_path));
  }
  internal::PkeyPtr key = internal::ParsePrivateKey(*key_pem);
  if (key == nullptr) {
    return status::InvalidField(
        files.key_field,
        absl::StrCat("no unencrypted PEM private key in ", files.key_path));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return status::InvalidField(
        files.key_field,
        absl::StrCat(files.key_path, " does not match ", files.cert_field));
  }
  return KeyCertPem{*std::move(key_pem), *std::move(cert_pem)};
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsConfig& config) {
  if (config.cert_file.empty() && config.key_file.empty() &&
      config.client_ca_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (config.cert_file.empty() && config.key_file.empty()) {
    return status::InvalidField("tls_cert_file",
                                "required when tls_client_ca_file is set");
  }
  absl::StatusOr<std::optional<KeyCertPem>> pair = ReadKeyCertPair(
      {"tls_cert_file", config.cert_file, "tls_key_file", config.key_file});
  if (!pair.ok()) return pair.status();

  const bool mutual = !config.client_ca_file.empty();
  grpc::SslServerCredentialsOptions options(
      mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (mutual) {
    absl::StatusOr<std::string> ca =
        ReadCaFile("tls_client_ca_file", config.client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  options.pem_key_cert_pairs.push_back(
      {std::move((*pair)->key), std::move((*pair)->cert)});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const ClientTlsConfig& config) {
  if (config.ca_file.empty() && config.cert_file.empty() &&
      config.key_file.empty() && config.server_name_override.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  if (!config.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadCaFile("tls_ca_file", config.ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  absl::StatusOr<std::optional<KeyCertPem>> pair =
      ReadKeyCertPair({"tls_client_cert_file", config.cert_file,
                       "tls_client_key_file", config.key_file});
  if (!pair.ok()) return pair.status();
  if (pair->has_value()) {
    options.pem_private_key = std::move((*pair)->key);
    options.pem_cert_chain = std::move((*pair)->cert);
  }
  return grpc::SslCredentials(options);
}

void ApplyChannelArguments(const ClientTlsConfig& config,
                           grpc::ChannelArguments* args) {
  if (!config.server_name_override.empty()) {
    args->SetSslTargetNameOverride(config.server_name_override);
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& target, const ClientTlsConfig& config,
    grpc::ChannelArguments args) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(config);
  if (!credentials.ok()) return credentials.status();
  ApplyChannelArguments(config, &args);
  return grpc::CreateCustomChannel(target, *credentials, args);
}

}  // namespace sightline::auth
