#pragma once

// Request plumbing every handler shares: resource names (AIP-122), enums
// checked against their descriptor, page tokens (AIP-158) and idempotency
// keys. Each failure is INVALID_ARGUMENT naming the request field.

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "lib/server/runtime.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"

namespace sightline::server {

// ---- names

// A resource name pattern: `<first>/{id}` or `<first>/{id}/<second>/{id}`.
struct Shape {
  absl::string_view first;
  absl::string_view second;  // empty for a top-level resource
  absl::string_view text;
};

inline constexpr Shape kPersonShape{"people", "", "people/{person}"};
inline constexpr Shape kTeamShape{"teams", "", "teams/{team}"};
inline constexpr Shape kGoalShape{"goals", "", "goals/{goal}"};

// An id the server minted or accepts: 1..63 characters of [a-z0-9-].
bool IsId(absl::string_view id);

// The ids of `name`; adds a violation naming `field` and returns false when the
// name has another shape.
bool ParseInto(absl::string_view name, const Shape& shape,
               absl::string_view field, std::vector<std::string>* ids,
               status::FieldErrors* errors);
// One id, or "" after adding a violation.
std::string IdOf(absl::string_view name, const Shape& shape,
                 absl::string_view field, status::FieldErrors* errors);
// Like IdOf, but an empty name is an empty id (an optional reference).
std::string OptionalIdOf(absl::string_view name, const Shape& shape,
                         absl::string_view field, status::FieldErrors* errors);
absl::StatusOr<std::string> ParseOne(absl::string_view name, const Shape& shape,
                                     absl::string_view field);

// ---- enums

// `value` as the domain enum E when the API enum `d` has it; 0 (unspecified)
// after adding a violation otherwise.
template <typename E>
E EnumOf(int value, const google::protobuf::EnumDescriptor* d,
         absl::string_view field, status::FieldErrors* errors) {
  if (d->FindValueByNumber(value) == nullptr) {
    std::vector<std::string> names;
    for (int i = 0; i < d->value_count(); ++i) {
      names.push_back(d->value(i)->name());
    }
    errors->Add(field,
                absl::StrCat("must be one of ", absl::StrJoin(names, ", "),
                             "; got ", value));
    return static_cast<E>(0);
  }
  return static_cast<E>(value);
}

// ---- paging

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

struct Paging {
  storage::Page page;
  int size = 0;
};

// `extra`: ask for one row more than the page, to tell whether another
// follows (for methods whose service answer carries no next cursor).
absl::StatusOr<Paging> StartPage(const storage::TokenCodec& codec,
                                 absl::string_view method,
                                 absl::string_view filters, int page_size,
                                 const std::string& token, bool extra,
                                 int default_size = kDefaultPageSize);

// Trims the extra row and returns the token of the next page ("" on the last).
template <typename T, typename Cursor>
std::string FinishPage(const storage::TokenCodec& codec,
                       absl::string_view method, absl::string_view filters,
                       const Paging& p, std::vector<T>* rows, Cursor cursor) {
  if (rows->size() <= static_cast<size_t>(p.size)) return "";
  rows->erase(rows->begin() + p.size, rows->end());
  return storage::EncodePageToken(codec, method, filters, cursor(rows->back()));
}

// The token for a cursor the service computed ("" when there is none).
std::string TokenFor(const storage::TokenCodec& codec, absl::string_view method,
                     absl::string_view filters, const std::string& cursor);

// ---- idempotency

// The idempotency key of a Create call: scoped by method and `principal_key`
// (the caller, or a pseudonym of the caller where the caller must not be
// stored in the clear).
absl::StatusOr<storage::Idempotency> IdempotencyOf(
    absl::string_view method, absl::string_view principal_key,
    const google::protobuf::Message& request, const std::string& request_id);

// ---- raw methods

// A raw method takes and answers bytes, so that a hot read can send an answer
// serialized once and kept with the cached entry.

// Parses a raw request into `m`; INVALID_ARGUMENT when the bytes are not one,
// CANCELLED when no message arrived (the call was cut off).
absl::Status ParseRaw(const grpc::ByteBuffer& bytes,
                      google::protobuf::MessageLite* m);
// Sets `out` to a copy of `wire` (a serialized message), or of its pieces in
// order.
void SetRaw(absl::string_view wire, grpc::ByteBuffer* out);
void SetRaw(std::initializer_list<absl::string_view> pieces,
            grpc::ByteBuffer* out);

}  // namespace sightline::server
