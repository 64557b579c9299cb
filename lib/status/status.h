#pragma once

// The one place where absl::Status (used by every layer below the handlers) and
// grpc::Status (seen by clients) meet. Bad input carries google.rpc.BadRequest
// field violations; other errors may carry google.rpc.ErrorInfo. Both travel to
// the client in the standard `grpc-status-details-bin` trailer.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace sightline::status {

inline constexpr absl::string_view kDomain = "sightline.dev";

struct FieldViolation {
  std::string field;
  std::string description;
};

// INVALID_ARGUMENT naming one field and the rule it breaks:
// "goal.title: must be 1..200 characters".
absl::Status InvalidField(absl::string_view field, absl::string_view rule);

// Collects the violations of one request; Build() is OK when there are none.
class FieldErrors {
 public:
  void Add(absl::string_view field, absl::string_view rule);
  bool empty() const { return violations_.empty(); }
  size_t size() const { return violations_.size(); }
  absl::Status Build() const;

 private:
  std::vector<FieldViolation> violations_;
};

// INVALID_ARGUMENT with several field violations; the message names the first
// few.
absl::Status InvalidFields(const std::vector<FieldViolation>& violations);

// Attaches google.rpc.ErrorInfo{reason, domain, metadata} to a status.
absl::Status WithErrorInfo(
    absl::Status status, absl::string_view reason,
    const absl::flat_hash_map<std::string, std::string>& metadata = {});

// Attaches google.rpc.RetryInfo{retry_delay}: when the client may try again
// (RESOURCE_EXHAUSTED by a limit).
absl::Status WithRetryInfo(absl::Status status, absl::Duration retry_delay);

// Reads back what the functions above attached.
std::vector<FieldViolation> FieldViolations(const absl::Status& status);
std::string ErrorReason(const absl::Status& status);
// The RetryInfo's delay, if the status carries one.
std::optional<absl::Duration> RetryDelay(const absl::Status& status);

// absl -> grpc for answers to clients. INTERNAL, UNKNOWN and DATA_LOSS keep
// their code but not their text (which may describe internals); callers log the
// original.
grpc::Status ToGrpc(const absl::Status& status);

// grpc -> absl for answers from other services, details preserved.
absl::Status FromGrpc(const grpc::Status& status);

// A dependency's failure as seen by our caller: a dependency that is down, slow
// or overloaded is UNAVAILABLE (retryable); NOT_FOUND, INVALID_ARGUMENT,
// PERMISSION_DENIED and the like pass through; anything else becomes INTERNAL.
absl::Status FromDependency(absl::string_view dependency,
                            const grpc::Status& status);

// Go's spelling of a code ("OK", "NotFound", "InvalidArgument"...), as the
// go-grpc-prometheus labels use.
absl::string_view GoCodeName(grpc::StatusCode code);

}  // namespace sightline::status
