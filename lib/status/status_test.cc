#include "lib/status/status.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"

namespace sightline::status {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::Field;
using ::testing::HasSubstr;

TEST(StatusTest, InvalidFieldNamesFieldAndRule) {
  absl::Status s = InvalidField("goal.title", "must be 1..200 characters");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          Eq("goal.title: must be 1..200 characters")));
  auto v = FieldViolations(s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].field, "goal.title");
}

TEST(StatusTest, FieldErrorsCollectsAndSummarises) {
  FieldErrors errors;
  EXPECT_TRUE(errors.Build().ok());
  for (int i = 0; i < 5; ++i)
    errors.Add("records[" + std::to_string(i) + "].email", "invalid");
  absl::Status s = errors.Build();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("(and 2 more)")));
  EXPECT_EQ(FieldViolations(s).size(), 5u);
}

TEST(StatusTest, ToGrpcCarriesBadRequestDetails) {
  grpc::Status g =
      ToGrpc(InvalidField("person.email", "is not an email address"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "person.email: is not an email address");
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "person.email");
}

TEST(StatusTest, RoundTripKeepsCodeMessageAndDetails) {
  absl::Status original =
      WithErrorInfo(absl::FailedPreconditionError("too many"),
                    "MASS_TERMINATION", {{"share", "0.5"}});
  absl::Status back = FromGrpc(ToGrpc(original));
  EXPECT_THAT(back,
              StatusIs(absl::StatusCode::kFailedPrecondition, Eq("too many")));
  EXPECT_EQ(ErrorReason(back), "MASS_TERMINATION");
}

TEST(StatusTest, RetryInfoTravelsInTheTrailerAndReadsBack) {
  absl::Status original = WithRetryInfo(
      WithErrorInfo(absl::ResourceExhaustedError("read rate limit"),
                    "RATE_LIMITED"),
      absl::Milliseconds(1500));
  grpc::Status g = ToGrpc(original);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  google::rpc::RetryInfo info;
  bool found = false;
  for (const auto& any : rpc.details()) found |= any.UnpackTo(&info);
  ASSERT_TRUE(found);
  EXPECT_EQ(info.retry_delay().seconds(), 1);
  EXPECT_EQ(info.retry_delay().nanos(), 500000000);
  absl::Status back = FromGrpc(g);
  EXPECT_EQ(RetryDelay(back), absl::Milliseconds(1500));
  EXPECT_EQ(ErrorReason(back), "RATE_LIMITED");
  EXPECT_EQ(RetryDelay(absl::ResourceExhaustedError("x")), std::nullopt);
  // A negative delay (a clock that stepped back) is sent as zero.
  EXPECT_EQ(RetryDelay(WithRetryInfo(absl::ResourceExhaustedError("x"),
                                     absl::Seconds(-3))),
            absl::ZeroDuration());
}

TEST(StatusTest, InternalErrorsHideTheirText) {
  grpc::Status g =
      ToGrpc(absl::InternalError("sqlite: disk I/O error at /var/x.db"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(g.error_message(), "internal error");
  EXPECT_TRUE(g.error_details().empty());
}

TEST(StatusTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(StatusTest, DependencyFailuresBecomeUnavailableOrPassThrough) {
  EXPECT_THAT(
      FromDependency("people",
                     grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow")),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("people")));
  EXPECT_THAT(
      FromDependency("people",
                     grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
      StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(
      FromDependency("people", grpc::Status(grpc::StatusCode::NOT_FOUND, "no")),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      FromDependency("people",
                     grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no")),
      StatusIs(absl::StatusCode::kInternal));
}

TEST(StatusTest, GoCodeNames) {
  EXPECT_EQ(GoCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GoCodeName(grpc::StatusCode::CANCELLED), "Canceled");
  EXPECT_EQ(GoCodeName(grpc::StatusCode::INVALID_ARGUMENT), "InvalidArgument");
  EXPECT_EQ(GoCodeName(grpc::StatusCode::UNAUTHENTICATED), "Unauthenticated");
}

}  // namespace
}  // namespace sightline::status
