// CallerLimiter without a server: buckets refill with the clock the test
// moves, slots come back on every path, memory stays bounded; and every RPC
// of every service has a method class.

#include "lib/server/limits.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

namespace sightline::server {
namespace {

constexpr int kRead = static_cast<int>(MethodClass::kRead);
constexpr int kWrite = static_cast<int>(MethodClass::kWrite);
constexpr int kSync = static_cast<int>(MethodClass::kSync);

class FakeClock {
 public:
  absl::Time Now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  CallerLimiter::Clock clock() {
    return [this] { return now_; };
  }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST(ClassifyMethodTest, EveryRpcOfEveryServiceHasAClass) {
  // The files of the four contracts (naming a message links its file in).
  const std::vector<const google::protobuf::FileDescriptor*> files = {
      people::v1::GetPersonRequest::descriptor()->file(),
      goals::v1::GetGoalRequest::descriptor()->file(),
      feedback::v1::GetFeedbackRequest::descriptor()->file(),
      metrics::v1::GetKpiRequest::descriptor()->file(),
  };
  int services = 0, methods = 0;
  for (const auto* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      ++services;
      for (int i = 0; i < service->method_count(); ++i) {
        ++methods;
        EXPECT_TRUE(ClassifyMethod(service->method(i)->name()).has_value())
            << service->method(i)->full_name()
            << " starts with a verb the limits table does not know "
               "(lib/server/limits.cc)";
      }
    }
  }
  EXPECT_EQ(services, 4);
  EXPECT_GT(methods, 50);
}

TEST(ClassifyMethodTest, ByVerb) {
  EXPECT_EQ(ClassifyMethod("GetGoal"), MethodClass::kRead);
  EXPECT_EQ(ClassifyMethod("ListGoals"), MethodClass::kRead);
  EXPECT_EQ(ClassifyMethod("BatchGetPeople"), MethodClass::kRead);
  EXPECT_EQ(ClassifyMethod("QueryKpi"), MethodClass::kRead);
  EXPECT_EQ(ClassifyMethod("WatchGoals"), MethodClass::kRead);
  EXPECT_EQ(ClassifyMethod("CreateCheckIn"), MethodClass::kWrite);
  EXPECT_EQ(ClassifyMethod("BatchCreateGoals"), MethodClass::kWrite);
  EXPECT_EQ(ClassifyMethod("BatchWriteDataPoints"), MethodClass::kWrite);
  EXPECT_EQ(ClassifyMethod("DeleteKpi"), MethodClass::kWrite);
  EXPECT_EQ(ClassifyMethod("SyncPeople"), MethodClass::kSync);
  EXPECT_EQ(ClassifyMethod("ImportRoster"), MethodClass::kSync);
  // A verb must be a whole word: "Getaway" is not a Get.
  EXPECT_EQ(ClassifyMethod("GetawayPlan"), std::nullopt);
  EXPECT_EQ(ClassifyMethod("Batch"), std::nullopt);
  EXPECT_EQ(ClassifyMethod("Frobnicate"), std::nullopt);
  EXPECT_EQ(ClassifyMethod(""), std::nullopt);
  // Unknown verbs are limited as writes.
  EXPECT_EQ(ClassOf("Frobnicate"), MethodClass::kWrite);
}

CallerLimitsConfig Rates(double read, double read_burst) {
  CallerLimitsConfig c;
  c.rate[kRead] = {read, read_burst};
  return c;
}

TEST(CallerLimiterTest, BucketEmptiesThenRefillsWithTheClock) {
  FakeClock clock;
  CallerLimiter limiter(Rates(10, 3), clock.clock());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted) << i;
  }
  CallerLimiter::Decision d = limiter.Admit("ada", MethodClass::kRead, false);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.reason, LimitReason::kRate);
  EXPECT_EQ(d.limit, 10);
  // 10 per second: one token every 100 ms.
  EXPECT_EQ(d.retry_after, absl::Milliseconds(100));
  clock.Advance(absl::Milliseconds(40));
  d = limiter.Admit("ada", MethodClass::kRead, false);
  EXPECT_FALSE(d.admitted);
  EXPECT_LT(absl::AbsDuration(d.retry_after - absl::Milliseconds(60)),
            absl::Microseconds(1));
  clock.Advance(absl::Milliseconds(60));
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  // A long pause refills up to the burst, not beyond.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted) << i;
  }
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
}

TEST(CallerLimiterTest, CallersAndClassesHaveTheirOwnBuckets) {
  FakeClock clock;
  CallerLimitsConfig c;
  c.rate[kRead] = {1, 1};
  c.rate[kWrite] = {1, 2};
  CallerLimiter limiter(c, clock.clock());
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  // Another caller, at the same moment.
  EXPECT_TRUE(limiter.Admit("bob", MethodClass::kRead, false).admitted);
  // Another class of the same caller.
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kWrite, false).admitted);
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kWrite, false).admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kWrite, false).admitted);
  // Syncs have no rate here: never refused.
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(limiter.Admit("ada", MethodClass::kSync, false).admitted);
}

TEST(CallerLimiterTest, ABurstOfZeroMeansOneSecondOfCalls) {
  FakeClock clock;
  CallerLimitsConfig c;
  c.rate[kSync] = {0.5, 0};
  c.rate[kWrite] = {4, 0};
  CallerLimiter limiter(c, clock.clock());
  EXPECT_EQ(limiter.config().rate[kSync].burst, 1);
  EXPECT_EQ(limiter.config().rate[kWrite].burst, 4);
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kSync, false).admitted);
  CallerLimiter::Decision d = limiter.Admit("ada", MethodClass::kSync, false);
  EXPECT_FALSE(d.admitted);
  EXPECT_EQ(d.retry_after, absl::Seconds(2));
}

TEST(CallerLimiterTest, AClockThatStepsBackRefillsNothing) {
  FakeClock clock;
  CallerLimiter limiter(Rates(1, 1), clock.clock());
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  clock.Advance(absl::Seconds(-30));
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  clock.Advance(absl::Seconds(31));
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
}

TEST(CallerLimiterTest, ConcurrencyCapHoldsUntilEveryPermitIsGivenBack) {
  FakeClock clock;
  CallerLimitsConfig c;
  c.max_concurrent_calls = 2;
  CallerLimiter limiter(c, clock.clock());
  CallerLimiter::Decision a = limiter.Admit("ada", MethodClass::kRead, true);
  CallerLimiter::Decision b = limiter.Admit("ada", MethodClass::kWrite, true);
  ASSERT_TRUE(a.admitted);
  ASSERT_TRUE(b.admitted);
  EXPECT_TRUE(a.permit.holds());
  CallerLimiter::Decision refused =
      limiter.Admit("ada", MethodClass::kRead, true);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.reason, LimitReason::kConcurrency);
  EXPECT_EQ(refused.limit, 2);
  EXPECT_FALSE(refused.permit.holds());
  // Streams hold no slot and are not capped.
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  // Another caller is not capped by ada's calls.
  EXPECT_TRUE(limiter.Admit("bob", MethodClass::kRead, true).admitted);

  // Released explicitly.
  a.permit.Release();
  EXPECT_FALSE(a.permit.holds());
  a.permit.Release();  // twice is harmless
  CallerLimiter::Decision c1 = limiter.Admit("ada", MethodClass::kRead, true);
  ASSERT_TRUE(c1.admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, true).admitted);
  // Released by destruction.
  { CallerLimiter::Permit gone = std::move(c1.permit); }
  EXPECT_FALSE(c1.permit.holds());
  CallerLimiter::Decision c2 = limiter.Admit("ada", MethodClass::kRead, true);
  ASSERT_TRUE(c2.admitted);
  // Released when a permit is assigned over.
  b.permit = CallerLimiter::Permit();
  CallerLimiter::Decision c3 = limiter.Admit("ada", MethodClass::kRead, true);
  ASSERT_TRUE(c3.admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, true).admitted);
}

TEST(CallerLimiterTest, StreamSlotsAreCountedApartFromRunningCalls) {
  FakeClock clock;
  CallerLimitsConfig c;
  c.max_concurrent_calls = 1;
  c.max_open_streams = 2;
  CallerLimiter limiter(c, clock.clock());
  using Slot = CallerLimiter::Slot;
  auto s1 = limiter.Admit("ada", MethodClass::kRead, Slot::kStream);
  auto s2 = limiter.Admit("ada", MethodClass::kSync, Slot::kStream);
  ASSERT_TRUE(s1.admitted);
  ASSERT_TRUE(s2.admitted);
  auto s3 = limiter.Admit("ada", MethodClass::kRead, Slot::kStream);
  EXPECT_FALSE(s3.admitted);
  EXPECT_EQ(s3.reason, LimitReason::kStreams);
  EXPECT_EQ(s3.limit, 2);
  // Her unary calls have their own cap.
  auto u1 = limiter.Admit("ada", MethodClass::kRead, Slot::kUnary);
  ASSERT_TRUE(u1.admitted);
  EXPECT_EQ(limiter.Admit("ada", MethodClass::kRead, Slot::kUnary).reason,
            LimitReason::kConcurrency);
  s1.permit.Release();
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, Slot::kStream).admitted);
  // A call that holds no slot is never capped.
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, Slot::kNone).admitted);
}

TEST(CallerLimiterTest, ARateRefusalTakesNoSlotAndACapRefusalNoToken) {
  FakeClock clock;
  CallerLimitsConfig c = Rates(1, 2);
  c.max_concurrent_calls = 1;
  CallerLimiter limiter(c, clock.clock());
  CallerLimiter::Decision first =
      limiter.Admit("ada", MethodClass::kRead, true);
  ASSERT_TRUE(first.admitted);
  // Refused by the cap: the second token stays in the bucket.
  EXPECT_EQ(limiter.Admit("ada", MethodClass::kRead, true).reason,
            LimitReason::kConcurrency);
  first.permit.Release();
  CallerLimiter::Decision second =
      limiter.Admit("ada", MethodClass::kRead, true);
  ASSERT_TRUE(second.admitted);
  second.permit.Release();
  // Refused by rate: no slot is taken, so after a refill the call runs.
  CallerLimiter::Decision third =
      limiter.Admit("ada", MethodClass::kRead, true);
  EXPECT_FALSE(third.admitted);
  EXPECT_EQ(third.reason, LimitReason::kRate);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, true).admitted);
}

TEST(CallerLimiterTest, OffLimitsTrackNobody) {
  CallerLimiter limiter(CallerLimitsConfig{});
  EXPECT_FALSE(limiter.config().enabled());
  for (int i = 0; i < 1000; ++i) {
    auto d =
        limiter.Admit(absl::StrCat("caller-", i), MethodClass::kWrite, true);
    EXPECT_TRUE(d.admitted);
    EXPECT_FALSE(d.permit.holds());
  }
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(CallerLimiterTest, IdleCallersAreForgottenAndMemoryStaysBounded) {
  FakeClock clock;
  // A token every 1000 s: no bucket refills during the test.
  CallerLimitsConfig c = Rates(0.001, 1);
  c.max_concurrent_calls = 1;
  c.max_tracked = 160;  // 10 per shard
  CallerLimiter limiter(c, clock.clock());
  // One caller with a call running and an empty bucket: never forgotten
  // while its call runs.
  CallerLimiter::Decision held =
      limiter.Admit("noisy", MethodClass::kRead, true);
  ASSERT_TRUE(held.admitted);
  for (int i = 0; i < 5000; ++i) {
    auto d =
        limiter.Admit(absl::StrCat("caller-", i), MethodClass::kRead, true);
    EXPECT_TRUE(d.admitted) << i;
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_LE(limiter.tracked(), 160u + 16u);
  // Its slot and its empty bucket are remembered.
  EXPECT_EQ(limiter.Admit("noisy", MethodClass::kRead, true).reason,
            LimitReason::kConcurrency);
  held.permit.Release();
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(limiter.Admit("noisy", MethodClass::kRead, true).reason,
            LimitReason::kRate);
}

TEST(CallerLimiterTest, ForgettingARefilledCallerLosesNothing) {
  FakeClock clock;
  CallerLimitsConfig c = Rates(1, 2);
  c.max_tracked = 16;  // one per shard
  CallerLimiter limiter(c, clock.clock());
  ASSERT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  ASSERT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  clock.Advance(absl::Seconds(10));  // ada's bucket is full again
  for (int i = 0; i < 200; ++i)
    limiter.Admit(absl::StrCat("other-", i), MethodClass::kRead, false);
  EXPECT_LE(limiter.tracked(), 32u);
  // Whether or not ada was forgotten, she has exactly her burst.
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  EXPECT_TRUE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
  EXPECT_FALSE(limiter.Admit("ada", MethodClass::kRead, false).admitted);
}

}  // namespace
}  // namespace sightline::server
