#pragma once

// A bounded pool of worker threads. Handlers run blocking work (SQL, Redis,
// calls to other services) here, never on gRPC's reactor threads. When the
// queue is full, TrySubmit refuses, and the caller answers RESOURCE_EXHAUSTED
// instead of piling up latency.

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace sightline::server {

class Executor {
 public:
  Executor(int threads, int max_queue);
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // False when the queue is full or the executor is shutting down.
  bool TrySubmit(absl::AnyInvocable<void()> task) { return TryQueue(task); }
  // Like TrySubmit, but `task` (callable once, with no arguments) is moved
  // into the queue only when accepted: a refused task stays with the caller as
  // it was, so that the caller can still answer for it.
  template <typename Task>
  bool TryQueue(Task& task) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || static_cast<int>(queue_.size()) >= max_queue_)
      return false;
    queue_.emplace_back(std::move(task));
    return true;
  }
  // Finishes what is queued, then stops the threads. Later submits fail.
  void Shutdown();

  int queued() const;
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  const int max_queue_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sightline::server
