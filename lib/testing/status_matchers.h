#pragma once

// Matchers on exact status codes, for absl::Status, absl::StatusOr and
// grpc::Status.
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
//   HasSubstr("title"))); EXPECT_THAT(grpc_status,
//   GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "lib/status/status.h"

namespace sightline::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

// INVALID_ARGUMENT with a BadRequest violation naming `field` (among others).
MATCHER_P(InvalidNaming, field,
          std::string("is INVALID_ARGUMENT naming ") + field) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s << " naming [";
  bool found = false;
  for (const auto& v : status::FieldViolations(s)) {
    *result_listener << v.field << " ";
    found |= v.field == field;
  }
  *result_listener << "]";
  return s.code() == absl::StatusCode::kInvalidArgument && found;
}

MATCHER_P2(GrpcStatusIs, code, message_matcher,
           "has grpc code " + std::to_string(static_cast<int>(code))) {
  *result_listener << "status is " << static_cast<int>(arg.error_code()) << ": "
                   << arg.error_message();
  return arg.error_code() == code &&
         ::testing::ExplainMatchResult(message_matcher, arg.error_message(),
                                       result_listener);
}

MATCHER_P(GrpcStatusIs, code,
          "has grpc code " + std::to_string(static_cast<int>(code))) {
  *result_listener << "status is " << static_cast<int>(arg.error_code()) << ": "
                   << arg.error_message();
  return arg.error_code() == code;
}

MATCHER(GrpcOk, "is OK") {
  *result_listener << "status is " << static_cast<int>(arg.error_code()) << ": "
                   << arg.error_message();
  return arg.ok();
}

}  // namespace sightline::testing
