#include "lib/cache/circuit_breaker.h"

#include <utility>

#include "absl/time/clock.h"

namespace sightline::cache {

CircuitBreaker::CircuitBreaker(BreakerConfig config,
                               std::function<void(State)> on_change)
    : threshold_(config.failure_threshold < 1 ? 1 : config.failure_threshold),
      open_duration_(config.open_duration),
      clock_(std::move(config.clock)),
      on_change_(std::move(on_change)) {}

absl::Time CircuitBreaker::Now() const {
  return clock_ ? clock_() : absl::Now();
}

bool CircuitBreaker::Allow() {
  State s = state_.load(std::memory_order_acquire);
  if (s == State::kClosed) return true;
  absl::Time now = Now();
  if (s == State::kOpen &&
      absl::ToUnixNanos(now) < retry_at_ns_.load(std::memory_order_acquire)) {
    return false;
  }
  absl::MutexLock lock(&mu_);
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (absl::ToUnixNanos(now) <
          retry_at_ns_.load(std::memory_order_relaxed)) {
        return false;
      }
      SetState(State::kHalfOpen);
      probe_deadline_ = now + open_duration_;
      return true;
    case State::kHalfOpen:
      // One probe at a time; a probe that never reported is replaced.
      if (now < probe_deadline_) return false;
      probe_deadline_ = now + open_duration_;
      return true;
  }
  return false;
}

void CircuitBreaker::RecordSuccess() {
  if (state_.load(std::memory_order_acquire) == State::kClosed) {
    // Skip the store when there is nothing to reset: no cache-line ping-pong
    // between threads on the hot path.
    if (failures_.load(std::memory_order_relaxed) != 0) {
      failures_.store(0, std::memory_order_relaxed);
    }
    return;
  }
  absl::MutexLock lock(&mu_);
  // A success reported while OPEN comes from a call that started before the
  // breaker opened; only HALF_OPEN (the probe) closes it.
  if (state_.load(std::memory_order_relaxed) == State::kHalfOpen) {
    failures_.store(0, std::memory_order_relaxed);
    SetState(State::kClosed);
  }
}

void CircuitBreaker::RecordFailure() {
  if (state_.load(std::memory_order_acquire) == State::kClosed) {
    if (failures_.fetch_add(1, std::memory_order_acq_rel) + 1 < threshold_) {
      return;
    }
  }
  absl::MutexLock lock(&mu_);
  switch (state_.load(std::memory_order_relaxed)) {
    case State::kClosed:
      if (failures_.load(std::memory_order_relaxed) >= threshold_) Open(Now());
      break;
    case State::kHalfOpen:
      Open(Now());
      break;
    case State::kOpen:
      // Late reports from calls already in flight do not extend the wait.
      break;
  }
}

void CircuitBreaker::Open(absl::Time now) {
  retry_at_ns_.store(absl::ToUnixNanos(now + open_duration_),
                     std::memory_order_release);
  failures_.store(0, std::memory_order_relaxed);
  SetState(State::kOpen);
}

void CircuitBreaker::SetState(State s) {
  state_.store(s, std::memory_order_release);
  if (on_change_) on_change_(s);
}

}  // namespace sightline::cache
