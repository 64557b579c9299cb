#include "lib/cache/circuit_breaker.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sightline::cache {
namespace {

using State = CircuitBreaker::State;
using ::testing::ElementsAre;

class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

BreakerConfig Config(FakeClock& clock, int threshold = 3,
                     absl::Duration open = absl::Seconds(1)) {
  BreakerConfig c;
  c.failure_threshold = threshold;
  c.open_duration = open;
  c.clock = clock.AsFunction();
  return c;
}

TEST(CircuitBreakerTest, StartsClosedAndAllows) {
  FakeClock clock;
  CircuitBreaker b(Config(clock));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.Allow());
  EXPECT_TRUE(b.Allow());
}

TEST(CircuitBreakerTest, OpensAfterThresholdConsecutiveFailures) {
  FakeClock clock;
  CircuitBreaker b(Config(clock));
  b.RecordFailure();
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kClosed);
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_FALSE(b.Allow());
}

TEST(CircuitBreakerTest, SuccessResetsTheFailureCount) {
  FakeClock clock;
  CircuitBreaker b(Config(clock));
  b.RecordFailure();
  b.RecordFailure();
  b.RecordSuccess();
  b.RecordFailure();
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kClosed);
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, StaysOpenUntilOpenDurationPasses) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 1, absl::Seconds(1)));
  b.RecordFailure();
  ASSERT_EQ(b.state(), State::kOpen);
  clock.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(b.Allow());
  EXPECT_EQ(b.state(), State::kOpen);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(b.Allow());
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, HalfOpenAllowsOneProbeAndSuccessCloses) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 1));
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(b.Allow());   // the probe
  EXPECT_FALSE(b.Allow());  // everyone else waits for it
  EXPECT_FALSE(b.Allow());
  b.RecordSuccess();
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.Allow());
  EXPECT_TRUE(b.Allow());
}

TEST(CircuitBreakerTest, ProbeFailureReopensForAnotherFullPeriod) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 3));
  for (int i = 0; i < 3; ++i) b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.Allow());
  b.RecordFailure();  // a single failure is enough in HALF_OPEN
  EXPECT_EQ(b.state(), State::kOpen);
  clock.Advance(absl::Milliseconds(500));
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(b.Allow());
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, LateReportsWhileOpenChangeNothing) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 1));
  b.RecordFailure();
  clock.Advance(absl::Milliseconds(600));
  // Calls that started before the breaker opened report now.
  b.RecordSuccess();
  EXPECT_EQ(b.state(), State::kOpen);
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kOpen);
  // The failure did not push the retry time out.
  clock.Advance(absl::Milliseconds(400));
  EXPECT_TRUE(b.Allow());
}

TEST(CircuitBreakerTest, ProbeThatNeverReportsIsReplacedAfterOpenDuration) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 1));
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.Allow());
  clock.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(b.Allow());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(b.Allow());
  EXPECT_FALSE(b.Allow());
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, ReportsEveryTransitionInOrder) {
  FakeClock clock;
  std::vector<State> seen;
  CircuitBreaker b(Config(clock, 1), [&seen](State s) { seen.push_back(s); });
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.Allow());
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(b.Allow());
  b.RecordSuccess();
  b.RecordSuccess();  // no transition, no report
  EXPECT_THAT(seen, ElementsAre(State::kOpen, State::kHalfOpen, State::kOpen,
                                State::kHalfOpen, State::kClosed));
}

TEST(CircuitBreakerTest, ThresholdBelowOneMeansOne) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 0));
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, ConcurrentCallersGetExactlyOneProbe) {
  FakeClock clock;
  CircuitBreaker b(Config(clock, 1));
  b.RecordFailure();
  clock.Advance(absl::Seconds(1));
  constexpr int kThreads = 8;
  std::atomic<int> granted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int j = 0; j < 1000; ++j) {
        if (b.Allow()) granted.fetch_add(1);
      }
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1);
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, ConcurrentFailuresOpenItOnce) {
  FakeClock clock;
  std::atomic<int> opens{0};
  CircuitBreaker b(Config(clock, 3), [&opens](State s) {
    if (s == State::kOpen) opens.fetch_add(1);
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 500; ++j) b.RecordFailure();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(opens.load(), 1);
}

TEST(CircuitBreakerTest, DefaultClockIsRealTime) {
  BreakerConfig c;
  c.failure_threshold = 1;
  c.open_duration = absl::ZeroDuration();
  CircuitBreaker b(c);
  b.RecordFailure();
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_TRUE(b.Allow());  // zero open duration: probe at once
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

}  // namespace
}  // namespace sightline::cache
