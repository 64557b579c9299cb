#include "lib/storage/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"

namespace sightline::storage {
namespace {

constexpr size_t kMacBytes = 16;

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n)) != 1) {
    // No entropy is an impossible state on a working system: fail loudly.
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

TokenCodec TokenCodec::WithRandomKey() { return TokenCodec(RandomBytes(32)); }

std::string TokenCodec::Encode(absl::string_view kind,
                               absl::string_view payload) const {
  std::string body = absl::StrCat(kind, "\n", payload);
  std::string mac = HmacSha256(key_, body).substr(0, kMacBytes);
  std::string out;
  absl::WebSafeBase64Escape(absl::StrCat(body, mac), &out);
  return out;
}

absl::StatusOr<std::string> TokenCodec::Decode(absl::string_view kind,
                                               absl::string_view token,
                                               absl::string_view field) const {
  std::string raw;
  if (token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() < kMacBytes + kind.size() + 1) {
    return status::InvalidField(field, "is not a token this service issued");
  }
  absl::string_view body(raw.data(), raw.size() - kMacBytes);
  absl::string_view mac(raw.data() + body.size(), kMacBytes);
  std::string expected = HmacSha256(key_, body).substr(0, kMacBytes);
  if (CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) != 0) {
    return status::InvalidField(field, "is not a token this service issued");
  }
  std::string prefix = absl::StrCat(kind, "\n");
  if (body.substr(0, prefix.size()) != prefix) {
    return status::InvalidField(field, "belongs to another request");
  }
  return std::string(body.substr(prefix.size()));
}

std::string EncodePageToken(const TokenCodec& codec, absl::string_view method,
                            absl::string_view filters,
                            absl::string_view cursor) {
  return codec.Encode(
      absl::StrCat("page:", method),
      absl::StrCat(Sha256Hex(filters).substr(0, 16), "\n", cursor));
}

absl::StatusOr<std::string> DecodePageToken(const TokenCodec& codec,
                                            absl::string_view method,
                                            absl::string_view filters,
                                            absl::string_view token) {
  auto payload =
      codec.Decode(absl::StrCat("page:", method), token, "page_token");
  if (!payload.ok()) return payload.status();
  std::string want = absl::StrCat(Sha256Hex(filters).substr(0, 16), "\n");
  if (payload->compare(0, want.size(), want) != 0) {
    return status::InvalidField("page_token",
                                "was issued for a request with other filters");
  }
  return payload->substr(want.size());
}

std::string EncodeResumeToken(const TokenCodec& codec, absl::string_view feed,
                              int64_t seq) {
  return codec.Encode(absl::StrCat("resume:", feed), absl::StrCat(seq));
}

absl::StatusOr<int64_t> DecodeResumeToken(const TokenCodec& codec,
                                          absl::string_view feed,
                                          absl::string_view token) {
  auto payload =
      codec.Decode(absl::StrCat("resume:", feed), token, "resume_token");
  if (!payload.ok()) return payload.status();
  int64_t seq = 0;
  if (!absl::SimpleAtoi(*payload, &seq) || seq < 0) {
    return status::InvalidField("resume_token",
                                "is not a token this service issued");
  }
  return seq;
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size) {
  if (requested < 0)
    return status::InvalidField("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return requested > max_size ? max_size : requested;
}

std::string NewId() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(16);
  while (out.size() < 16) {
    for (unsigned char b : RandomBytes(24)) {
      // 252 = 7 * 36: rejecting the last four byte values keeps ids uniform.
      if (b < 252 && out.size() < 16) out.push_back(kAlphabet[b % 36]);
    }
  }
  return out;
}

std::string Etag(absl::string_view name, int64_t revision) {
  // Stable across processes and replicas, and cheap: it is computed on every
  // read. FNV-1a over the name and the revision.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : name) mix(c);
  mix('#');
  for (int i = 0; i < 8; ++i)
    mix(static_cast<unsigned char>(revision >> (8 * i)));
  char out[19];
  out[0] = '"';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) out[1 + i] = kHex[(h >> (60 - 4 * i)) & 0xf];
  out[17] = '"';
  out[18] = '\0';
  return std::string(out, 18);
}

}  // namespace sightline::storage
