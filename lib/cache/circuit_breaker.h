#pragma once

// A circuit breaker for one dependency (here: Redis). While it is open, callers
// skip the dependency instead of each waiting for its timeout; after
// `open_duration` one probe call is let through and decides what happens next.

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sightline::cache {

struct BreakerConfig {
  // Consecutive failures that open the breaker.
  int failure_threshold = 3;
  // Time spent open before a probe is allowed; also how long a probe that never
  // reports back blocks the next one.
  absl::Duration open_duration = absl::Seconds(1);
  // Null = absl::Now. Tests inject their own to drive time without sleeping.
  std::function<absl::Time()> clock;
};

class CircuitBreaker {
 public:
  // The values are what the state gauge exports.
  enum class State : int { kClosed = 0, kHalfOpen = 1, kOpen = 2 };

  // `on_change` (optional) runs on every transition, in order, under the
  // breaker's lock: keep it short and do not call back into the breaker.
  explicit CircuitBreaker(BreakerConfig config,
                          std::function<void(State)> on_change = nullptr);

  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // Whether to try the dependency now. When it returns true outside CLOSED,
  // the caller is the probe and must report the outcome.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();

  State state() const { return state_.load(std::memory_order_acquire); }

 private:
  absl::Time Now() const;
  void Open(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(State s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int threshold_;
  const absl::Duration open_duration_;
  const std::function<absl::Time()> clock_;
  const std::function<void(State)> on_change_;

  // Read without the lock on the hot path; written only under mu_.
  std::atomic<State> state_{State::kClosed};
  std::atomic<int> failures_{0};
  // While OPEN: no probe before this (ns since the Unix epoch), checked
  // lock-free so that rejected calls stay cheap.
  std::atomic<int64_t> retry_at_ns_{0};

  absl::Mutex mu_;
  // While HALF_OPEN: when an unanswered probe is given up on.
  absl::Time probe_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace sightline::cache
