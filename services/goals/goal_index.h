#pragma once

// An in-memory copy of the goals of the cycles that alignment trees are asked
// for, kept exact against the change log: before each read it asks the store
// for the log's head and re-reads only the goals changed since it last looked
// (committed by this replica or any other), so a tree reflects every commit
// that preceded the call without reading the whole cycle again. When the store
// keeps no log, or the log was pruned past the copy, the cycle is read whole.

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/goals/model.h"
#include "services/goals/repository.h"

namespace sightline::goals {

// The fields of a goal that its row carries (no key results, no history).
Goal GoalFromRow(const GoalRow& r);

using GoalPtr = std::shared_ptr<const Goal>;

// The goals of one cycle.
class CycleGoals {
 public:
  // Null when the cycle has no such goal.
  GoalPtr Find(const std::string& id) const;
  // Goals whose parent is `parent_id` ("" for goals without a parent), sorted
  // by id.
  const std::vector<GoalPtr>& Children(const std::string& parent_id) const;
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [id, g] : by_id_) f(g);
  }
  size_t size() const { return by_id_.size(); }

 private:
  friend class GoalIndex;
  void Clear();
  void Put(GoalPtr g);
  void Remove(const std::string& id);

  absl::flat_hash_map<std::string, GoalPtr> by_id_;
  absl::flat_hash_map<std::string, std::vector<GoalPtr>> children_;
};

class GoalIndex {
 public:
  // Keeps at most `max_cycles` cycles, the most recently read.
  explicit GoalIndex(GoalRepository* repo, size_t max_cycles = 8);

  // Brings the cycle up to date with the store, then runs `fn` on it under a
  // reader lock (other reads of the cycle run at the same time; keep `fn` free
  // of calls to the store).
  absl::Status Read(const std::string& cycle_id,
                    const std::function<void(const CycleGoals&)>& fn);

  // What catching up has cost so far: whole reads of a cycle, and goals read
  // again one by one.
  int64_t full_loads() const;
  int64_t goals_reread() const;

 private:
  struct Entry {
    absl::Mutex mu;
    bool loaded ABSL_GUARDED_BY(mu) = false;
    int64_t seq ABSL_GUARDED_BY(mu) = 0;
    CycleGoals goals ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Entry> EntryOf(const std::string& cycle_id);
  absl::Status CatchUp(const std::string& cycle_id, Entry& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(e.mu);
  absl::Status Load(const std::string& cycle_id, Entry& e, int64_t head,
                    bool exact) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e.mu);

  GoalRepository* const repo_;
  const size_t max_cycles_;
  mutable absl::Mutex mu_;
  // Most recently read first.
  std::list<std::pair<std::string, std::shared_ptr<Entry>>> cycles_
      ABSL_GUARDED_BY(mu_);
  int64_t full_loads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t goals_reread_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sightline::goals
