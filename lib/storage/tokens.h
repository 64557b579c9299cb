#pragma once

// Opaque tokens handed to clients (page tokens, Watch resume tokens), resource
// ids and etags.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sightline::storage {

// One page of a List call as the storage layer reads it.
struct Page {
  // Exclusive cursor (an id, or a composite key the method defines).
  std::string after;
  int limit = 100;
};

// Tokens are base64url(kind "\n" payload || HMAC-SHA256[0..16)): opaque to
// clients, and a token that was altered, forged, or minted for another method
// or another filter is refused with INVALID_ARGUMENT naming the field.
class TokenCodec {
 public:
  explicit TokenCodec(std::string key) : key_(std::move(key)) {}
  // A codec with a fresh random key: tokens die with the process. Replicas that
  // share clients must share a key instead.
  static TokenCodec WithRandomKey();

  std::string Encode(absl::string_view kind, absl::string_view payload) const;
  absl::StatusOr<std::string> Decode(absl::string_view kind,
                                     absl::string_view token,
                                     absl::string_view field) const;

 private:
  std::string key_;
};

// Page tokens: the cursor (last key of the previous page) bound to the
// request's filters, so a token cannot be replayed with other filters.
std::string EncodePageToken(const TokenCodec& codec, absl::string_view method,
                            absl::string_view filters,
                            absl::string_view cursor);
absl::StatusOr<std::string> DecodePageToken(const TokenCodec& codec,
                                            absl::string_view method,
                                            absl::string_view filters,
                                            absl::string_view token);

// Watch resume tokens: a change-log sequence, bound to one feed ("people").
std::string EncodeResumeToken(const TokenCodec& codec, absl::string_view feed,
                              int64_t seq);
absl::StatusOr<int64_t> DecodeResumeToken(const TokenCodec& codec,
                                          absl::string_view feed,
                                          absl::string_view token);

// A page size after AIP-158 rules: negative is INVALID_ARGUMENT, 0 is the
// default, more than the maximum is capped.
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size);

// A random resource id: 16 characters of [a-z0-9] (about 82 bits).
std::string NewId();

// The etag of a resource at a revision.
std::string Etag(absl::string_view name, int64_t revision);

std::string Sha256Hex(absl::string_view data);
std::string HmacSha256(absl::string_view key, absl::string_view data);
std::string RandomBytes(size_t n);

}  // namespace sightline::storage
