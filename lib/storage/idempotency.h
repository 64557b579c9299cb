#pragma once

// Idempotency records: the answer to a request, kept under its request_id so a
// retry gets the first answer instead of a second effect. Scoped by method and
// principal so that callers cannot read or block each other's records; the
// fingerprint (a hash of the request without its request_id) tells a retry from
// a different request that reuses the id.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "google/protobuf/message.h"
#include "lib/storage/database.h"

namespace soci {
class session;
}

namespace sightline::storage {

// The key a Create call's answer is kept under.
struct Idempotency {
  std::string scope;       // method and principal
  std::string request_id;  // empty: not idempotent
  std::string fingerprint;
};

// SHA-256 (hex) of the deterministic serialization of `request` with its
// `request_id` field (if any) cleared.
std::string RequestFingerprint(const google::protobuf::Message& request);

// The stored answer for (scope, request_id), if any. INVALID_ARGUMENT naming
// `request_id` when the id was used for a different request.
absl::StatusOr<absl::optional<std::string>> LookupIdempotent(
    soci::session& sql, absl::string_view scope, absl::string_view request_id,
    absl::string_view fingerprint);

// The stored answer for `idem`, read outside a transaction on a pooled
// session (`op` names the read in metrics); nullopt without a request id or
// an answer.
absl::StatusOr<std::optional<std::string>> FindIdempotent(
    Database& db, absl::string_view op, const Idempotency& idem);

// Stores the answer in the same transaction as the change it describes.
absl::Status RecordIdempotent(Tx& tx, absl::string_view scope,
                              absl::string_view request_id,
                              absl::string_view fingerprint,
                              absl::string_view response);

// request_id rules: 1..128 printable ASCII characters.
absl::Status ValidateRequestId(absl::string_view request_id,
                               absl::string_view field);

}  // namespace sightline::storage
