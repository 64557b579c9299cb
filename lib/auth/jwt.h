#pragma once

// Bearer tokens: JWTs signed with HS256 (shared secret) or RS256 (RSA key
// pair). The verifier trusts only the algorithm and key the deployment
// configured, never the algorithm a token names.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "lib/auth/principal.h"

namespace sightline::auth {

enum class Algorithm { kHS256, kRS256 };

// "HS256" or "RS256" (exact); anything else is INVALID_ARGUMENT.
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name);
absl::string_view AlgorithmName(Algorithm algorithm);

// HS256 secrets must be at least this long (RFC 7518 section 3.2).
inline constexpr size_t kMinSecretBytes = 32;

struct VerifierConfig {
  Algorithm algorithm = Algorithm::kHS256;
  // HS256: the shared secret bytes; RS256: a PEM public key
  // ("-----BEGIN PUBLIC KEY-----").
  std::string key;
  std::string issuer;    // when non-empty, `iss` must equal it
  std::string audience;  // when non-empty, `aud` (string or array) must hold it
  absl::Duration leeway = absl::Seconds(30);  // clock skew allowed on exp/nbf
  // Verified tokens remembered (0 = off). Held in 16 shards of
  // max(1, cache_size / 16) entries each; a full shard is emptied.
  size_t cache_size = 10000;
};

// Thread-safe; meant to be shared by every RPC of a server.
//
// Every failure is UNAUTHENTICATED with a short reason ("token expired",
// "bad signature", ...) that never quotes the token. A token must carry `exp`
// and a non-empty `sub`; `nbf` is honoured when present, `iat` is ignored.
// `roles` is a JSON array of role names or one space-separated string; an
// unknown name is refused; no `roles` claim means no roles.
class TokenVerifier {
 public:
  // INVALID_ARGUMENT when the key does not suit the algorithm (short secret,
  // not a PEM RSA public key) or the leeway is negative.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(
      VerifierConfig config);
  ~TokenVerifier();

  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Verifies an `authorization` metadata value "Bearer <jwt>" (scheme
  // case-insensitive).
  absl::StatusOr<Principal> VerifyAuthorization(absl::string_view header,
                                                absl::Time now) const;
  absl::StatusOr<Principal> VerifyToken(absl::string_view token,
                                        absl::Time now) const;

  // Tokens held in the verified-token cache right now (for metrics and tests).
  size_t CachedTokens() const;

 private:
  class Cache;
  struct Claims;

  TokenVerifier(VerifierConfig config, std::unique_ptr<Cache> cache);
  absl::StatusOr<Claims> VerifyUncached(absl::string_view token) const;
  absl::Status CheckTimes(absl::Time expires, absl::Time not_before,
                          absl::Time now) const;

  const VerifierConfig config_;
  const std::unique_ptr<Cache> cache_;  // null when caching is off
};

struct MintOptions {
  Algorithm algorithm = Algorithm::kHS256;
  std::string key;  // HS256 secret, or RS256 PEM private key
  std::string subject;
  std::vector<Role> roles;  // empty = no `roles` claim
  std::string issuer;       // empty = no `iss` claim
  std::string audience;     // empty = no `aud` claim
  absl::Time issued_at = absl::Now();
  absl::Duration ttl = absl::Hours(1);  // exp = issued_at + ttl
  absl::optional<absl::Time> not_before;
};

// A signed token. INVALID_ARGUMENT for an empty subject, a short secret, a
// key that is not a PEM RSA private key (RS256), or a non-positive ttl.
absl::StatusOr<std::string> Mint(const MintOptions& options);

// Reads a key file: NOT_FOUND when missing, INVALID_ARGUMENT when unreadable
// or empty, each naming the path. The bytes are returned exactly, except that
// one trailing newline ("\n" or "\r\n") is removed: secrets are usually
// written with `echo` or an editor, and PEM parsers do not need it. A binary
// secret must therefore not end in a newline byte; generate secrets as text
// (`openssl rand -hex 32`).
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

}  // namespace sightline::auth
