#include "lib/auth/jwt.h"

#include <jwt.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "lib/auth/internal.h"
#include "lib/auth/json.h"
#include "lib/status/status.h"

namespace sightline::auth {
namespace {

using internal::JsonValue;
using Kind = JsonValue::Kind;

// gRPC refuses metadata beyond 8 KiB by default anyway.
constexpr size_t kMaxTokenBytes = 8192;
constexpr size_t kShards = 16;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

absl::Status Refuse(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

jwt_alg_t LibJwtAlgorithm(Algorithm algorithm) {
  return algorithm == Algorithm::kHS256 ? JWT_ALG_HS256 : JWT_ALG_RS256;
}

bool IsBase64UrlChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

struct Segments {
  absl::string_view header, payload, signature;
};

// "header.payload.signature" in unpadded base64url; the signature may be empty
// here (alg "none") and is judged later.
std::optional<Segments> Split(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) {
    return std::nullopt;
  }
  for (char c : token) {
    if (c != '.' && !IsBase64UrlChar(c)) return std::nullopt;
  }
  return Segments{parts[0], parts[1], parts[2]};
}

// One base64url segment holding a JSON object.
std::optional<JsonValue> DecodeObject(absl::string_view segment) {
  std::string json;
  if (!absl::WebSafeBase64Unescape(segment, &json)) return std::nullopt;
  std::optional<JsonValue> value = internal::ParseJson(json);
  if (!value.has_value() || value->kind != Kind::kObject) return std::nullopt;
  return value;
}

const std::string* StringField(const JsonValue& object,
                               absl::string_view name) {
  const JsonValue* v = object.Find(name);
  return v != nullptr && v->is_string() ? &v->string : nullptr;
}

// A JWT NumericDate (seconds since the epoch, possibly fractional).
// nullopt when absent; an error when present but not a plausible date.
absl::StatusOr<std::optional<absl::Time>> DateField(const JsonValue& object,
                                                    absl::string_view name) {
  const JsonValue* v = object.Find(name);
  if (v == nullptr) return std::nullopt;
  if (v->kind != Kind::kNumber) return Refuse("malformed token");
  double seconds = v->number;
  // Nothing real is dated after the year 5000.
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e11) {
    return Refuse("malformed token");
  }
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

// Role names are short identifiers; anything else is left out of the message
// so a token cannot write arbitrary text into our logs.
absl::Status UnknownRole(absl::string_view name) {
  bool printable = !name.empty() && name.size() <= 32 &&
                   std::all_of(name.begin(), name.end(), [](char c) {
                     return IsBase64UrlChar(c) || c == '.';
                   });
  return printable ? Refuse(absl::StrCat("unknown role: ", name))
                   : Refuse("unknown role");
}

absl::Status AddRole(absl::string_view name, std::vector<Role>* roles) {
  absl::optional<Role> role = ParseRole(name);
  if (!role.has_value()) return UnknownRole(name);
  if (std::find(roles->begin(), roles->end(), *role) == roles->end()) {
    roles->push_back(*role);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Role>> RolesClaim(const JsonValue& claims) {
  std::vector<Role> roles;
  const JsonValue* v = claims.Find("roles");
  if (v == nullptr) return roles;
  if (v->is_string()) {
    for (absl::string_view name :
         absl::StrSplit(v->string, ' ', absl::SkipEmpty())) {
      if (absl::Status s = AddRole(name, &roles); !s.ok()) return s;
    }
    return roles;
  }
  if (v->kind != Kind::kArray) return Refuse("malformed token");
  for (const JsonValue& item : v->array) {
    if (!item.is_string()) return Refuse("malformed token");
    if (absl::Status s = AddRole(item.string, &roles); !s.ok()) return s;
  }
  return roles;
}

bool AudienceMatches(const JsonValue& claims, const std::string& audience) {
  const JsonValue* v = claims.Find("aud");
  if (v == nullptr) return false;
  if (v->is_string()) return v->string == audience;
  if (v->kind != Kind::kArray) return false;
  return std::any_of(v->array.begin(), v->array.end(),
                     [&](const JsonValue& item) {
                       return item.is_string() && item.string == audience;
                     });
}

}  // namespace

struct TokenVerifier::Claims {
  Principal principal;
  absl::Time not_before = absl::InfinitePast();
};

// Verified tokens, in shards so that concurrent RPCs rarely contend.
class TokenVerifier::Cache {
 public:
  explicit Cache(size_t capacity)
      : per_shard_(std::max<size_t>(1, capacity / kShards)) {}

  // Keyed by the token text itself: a fast hash on every call instead of a
  // cryptographic one (this runs on every RPC); memory stays bounded by the
  // capacity. Only tokens that verified are stored.
  std::optional<Claims> Find(absl::string_view token) const {
    const Shard& shard = ShardFor(token);
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.entries.find(token);
    if (it == shard.entries.end()) return std::nullopt;
    return it->second;
  }

  void Insert(absl::string_view token, const Claims& claims) {
    Shard& shard = ShardFor(token);
    absl::MutexLock lock(&shard.mu);
    // Emptying a full shard is crude but bounds memory with no bookkeeping on
    // the hit path; live tokens come back on their next call.
    if (shard.entries.size() >= per_shard_) shard.entries.clear();
    shard.entries.insert_or_assign(std::string(token), claims);
  }

  size_t Size() const {
    size_t total = 0;
    for (const Shard& shard : shards_) {
      absl::ReaderMutexLock lock(&shard.mu);
      total += shard.entries.size();
    }
    return total;
  }

 private:
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, Claims> entries ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(absl::string_view token) {
    return shards_[absl::HashOf(token) % kShards];
  }
  const Shard& ShardFor(absl::string_view token) const {
    return shards_[absl::HashOf(token) % kShards];
  }

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name) {
  if (name == "HS256") return Algorithm::kHS256;
  if (name == "RS256") return Algorithm::kRS256;
  return status::InvalidField("algorithm", "must be HS256 or RS256");
}

absl::string_view AlgorithmName(Algorithm algorithm) {
  return algorithm == Algorithm::kHS256 ? "HS256" : "RS256";
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(
    VerifierConfig config) {
  if (config.algorithm == Algorithm::kHS256) {
    if (config.key.size() < kMinSecretBytes) {
      return status::InvalidField(
          "key", absl::StrCat("HS256 secret must be at least ", kMinSecretBytes,
                              " bytes"));
    }
  } else if (!internal::IsStrongRsaKey(
                 internal::ParsePublicKey(config.key).get())) {
    return status::InvalidField(
        "key", "must be a PEM RSA public key of at least 2048 bits");
  }
  if (config.key.size() > INT_MAX) {
    return status::InvalidField("key", "too long");
  }
  if (config.leeway < absl::ZeroDuration()) {
    return status::InvalidField("leeway", "must not be negative");
  }
  std::unique_ptr<Cache> cache;
  if (config.cache_size > 0) {
    cache = std::make_unique<Cache>(config.cache_size);
  }
  return std::unique_ptr<TokenVerifier>(
      new TokenVerifier(std::move(config), std::move(cache)));
}

TokenVerifier::TokenVerifier(VerifierConfig config,
                             std::unique_ptr<Cache> cache)
    : config_(std::move(config)), cache_(std::move(cache)) {}

TokenVerifier::~TokenVerifier() = default;

absl::StatusOr<Principal> TokenVerifier::VerifyAuthorization(
    absl::string_view header, absl::Time now) const {
  constexpr absl::string_view kScheme = "bearer";
  absl::string_view value = absl::StripAsciiWhitespace(header);
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return Refuse("missing bearer token");
  }
  return VerifyToken(
      absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size())), now);
}

absl::StatusOr<Principal> TokenVerifier::VerifyToken(absl::string_view token,
                                                     absl::Time now) const {
  if (token.empty()) return Refuse("missing bearer token");
  if (token.size() > kMaxTokenBytes) return Refuse("malformed token");
  if (cache_ != nullptr) {
    if (std::optional<Claims> hit = cache_->Find(token); hit.has_value()) {
      absl::Status s = CheckTimes(hit->principal.expires, hit->not_before, now);
      if (!s.ok()) return s;
      return std::move(hit->principal);
    }
  }
  absl::StatusOr<Claims> claims = VerifyUncached(token);
  if (!claims.ok()) return claims.status();
  absl::Status s =
      CheckTimes(claims->principal.expires, claims->not_before, now);
  if (!s.ok()) return s;
  if (cache_ != nullptr) cache_->Insert(token, *claims);
  return std::move(claims->principal);
}

size_t TokenVerifier::CachedTokens() const {
  return cache_ == nullptr ? 0 : cache_->Size();
}

absl::Status TokenVerifier::CheckTimes(absl::Time expires,
                                       absl::Time not_before,
                                       absl::Time now) const {
  if (now >= expires + config_.leeway) return Refuse("token expired");
  if (now + config_.leeway < not_before) return Refuse("token not yet valid");
  return absl::OkStatus();
}

absl::StatusOr<TokenVerifier::Claims> TokenVerifier::VerifyUncached(
    absl::string_view token) const {
  std::optional<Segments> segments = Split(token);
  if (!segments.has_value()) return Refuse("malformed token");
  std::optional<JsonValue> header = DecodeObject(segments->header);
  if (!header.has_value()) return Refuse("malformed token");
  // libjwt verifies with whatever algorithm the token names, so the token must
  // name ours before libjwt sees it: otherwise an HS256 token keyed with our
  // RS256 public key would pass.
  const std::string* alg = StringField(*header, "alg");
  if (alg == nullptr) return Refuse("malformed token");
  if (*alg != AlgorithmName(config_.algorithm)) {
    return Refuse("algorithm not allowed");
  }
  // RFC 7515: extensions marked critical must be understood; we know none.
  if (header->Find("crit") != nullptr) return Refuse("malformed token");
  // Before libjwt, which reports unreadable claims as a bad signature.
  std::optional<JsonValue> claims = DecodeObject(segments->payload);
  if (!claims.has_value()) return Refuse("malformed token");

  jwt_t* raw = nullptr;
  const std::string text(token);  // libjwt wants a NUL-terminated copy
  int rc =
      jwt_decode(&raw, text.c_str(),
                 reinterpret_cast<const unsigned char*>(config_.key.data()),
                 static_cast<int>(config_.key.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || jwt == nullptr) return Refuse("bad signature");
  // What libjwt actually verified with, in case its parser read the header
  // differently from ours.
  if (jwt_get_alg(jwt.get()) != LibJwtAlgorithm(config_.algorithm)) {
    return Refuse("algorithm not allowed");
  }

  Claims out;
  absl::StatusOr<std::optional<absl::Time>> exp = DateField(*claims, "exp");
  if (!exp.ok()) return exp.status();
  if (!exp->has_value()) return Refuse("missing expiry");
  out.principal.expires = **exp;
  absl::StatusOr<std::optional<absl::Time>> nbf = DateField(*claims, "nbf");
  if (!nbf.ok()) return nbf.status();
  if (nbf->has_value()) out.not_before = **nbf;

  if (!config_.issuer.empty()) {
    const std::string* iss = StringField(*claims, "iss");
    if (iss == nullptr || *iss != config_.issuer) return Refuse("wrong issuer");
  }
  if (!config_.audience.empty() &&
      !AudienceMatches(*claims, config_.audience)) {
    return Refuse("wrong audience");
  }
  const std::string* sub = StringField(*claims, "sub");
  if (sub == nullptr || sub->empty()) return Refuse("missing subject");
  out.principal.subject = *sub;
  absl::StatusOr<std::vector<Role>> roles = RolesClaim(*claims);
  if (!roles.ok()) return roles.status();
  out.principal.roles = *std::move(roles);
  return out;
}

absl::StatusOr<std::string> Mint(const MintOptions& options) {
  if (options.subject.empty()) {
    return status::InvalidField("subject", "must not be empty");
  }
  if (options.ttl <= absl::ZeroDuration()) {
    return status::InvalidField("ttl", "must be positive");
  }
  if (options.algorithm == Algorithm::kHS256) {
    if (options.key.size() < kMinSecretBytes) {
      return status::InvalidField(
          "key", absl::StrCat("HS256 secret must be at least ", kMinSecretBytes,
                              " bytes"));
    }
  } else if (!internal::IsStrongRsaKey(
                 internal::ParsePrivateKey(options.key).get())) {
    return status::InvalidField(
        "key", "must be a PEM RSA private key of at least 2048 bits");
  }
  if (options.key.size() > INT_MAX) {
    return status::InvalidField("key", "too long");
  }

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::ResourceExhaustedError("jwt_new");
  JwtPtr jwt(raw);
  auto add = [&jwt](const char* name, const std::string& value) {
    return value.empty() || jwt_add_grant(jwt.get(), name, value.c_str()) == 0;
  };
  auto add_time = [&jwt](const char* name, absl::Time t) {
    return jwt_add_grant_int(jwt.get(), name, absl::ToUnixSeconds(t)) == 0;
  };
  bool ok =
      add("sub", options.subject) && add("iss", options.issuer) &&
      add("aud", options.audience) && add_time("iat", options.issued_at) &&
      add_time("exp", options.issued_at + options.ttl) &&
      (!options.not_before.has_value() || add_time("nbf", *options.not_before));
  if (ok && !options.roles.empty()) {
    // Role names are fixed identifiers: nothing to escape.
    std::string json =
        absl::StrCat(R"({"roles":[")",
                     absl::StrJoin(options.roles, R"(",")",
                                   [](std::string* out, Role role) {
                                     absl::StrAppend(out, RoleName(role));
                                   }),
                     R"("]})");
    ok = jwt_add_grants_json(jwt.get(), json.c_str()) == 0;
  }
  if (!ok) return absl::InternalError("cannot build token claims");
  if (jwt_set_alg(jwt.get(), LibJwtAlgorithm(options.algorithm),
                  reinterpret_cast<const unsigned char*>(options.key.data()),
                  static_cast<int>(options.key.size())) != 0) {
    return absl::InternalError("cannot set token algorithm");
  }
  char* encoded = jwt_encode_str(jwt.get());
  if (encoded == nullptr) return absl::InternalError("cannot sign token");
  std::string token(encoded);
  std::free(encoded);
  return token;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  absl::StatusOr<std::string> data = internal::ReadWholeFile(path);
  if (!data.ok()) return data.status();
  if (absl::EndsWith(*data, "\r\n")) {
    data->resize(data->size() - 2);
  } else if (absl::EndsWith(*data, "\n")) {
    data->pop_back();
  }
  if (data->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, " is empty"));
  }
  return data;
}

}  // namespace sightline::auth
