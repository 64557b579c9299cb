#pragma once

// Internal to lib/auth: files and OpenSSL PEM parsing shared by jwt.cc and
// tls.cc.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sightline::auth::internal {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The whole regular file at `path`. NOT_FOUND when it does not exist,
// INVALID_ARGUMENT when it cannot be read or is not a regular file; messages
// name the path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// The first PEM object of its kind in `pem`, or null. Encrypted private keys
// are refused rather than prompting for a passphrase on the terminal.
PkeyPtr ParsePrivateKey(absl::string_view pem);
PkeyPtr ParsePublicKey(absl::string_view pem);
X509Ptr ParseCertificate(absl::string_view pem);

// An RSA key of at least 2048 bits.
bool IsStrongRsaKey(const EVP_PKEY* key);

}  // namespace sightline::auth::internal
