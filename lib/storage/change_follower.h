#pragma once

// Calls a function with every change committed after it starts, in commit
// order, on its own thread: for keeping in-process state (caches) exact with
// commits made by other replicas.

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "lib/storage/change_log.h"

namespace sightline::storage {

class ChangeFollower {
 public:
  using Fn = std::function<void(const std::vector<ChangeRow>&)>;
  ChangeFollower(Database* db, ChangeFeed* feed, Fn fn)
      : db_(db), feed_(feed), fn_(std::move(fn)) {}
  ~ChangeFollower() { Stop(); }

  void Start();
  void Stop();

 private:
  Database* db_;
  ChangeFeed* feed_;
  Fn fn_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sightline::storage
