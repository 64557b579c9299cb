#include "services/goals/goal_index.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace sightline::goals {
namespace {

// More changed goals than this and the whole cycle is read instead.
constexpr size_t kMaxReread = 20000;

bool ById(const GoalPtr& a, const GoalPtr& b) { return a->id < b->id; }

}  // namespace

Goal GoalFromRow(const GoalRow& r) {
  Goal g;
  g.id = r.id;
  g.parent_id = r.parent_id;
  g.cycle_id = r.cycle_id;
  g.title = r.title;
  g.owner = r.owner;
  g.contributor_ids = r.contributor_ids;
  g.level = r.level;
  g.state = r.state;
  g.visibility = r.visibility;
  g.weight = r.weight;
  g.progress = r.progress;
  g.start_date = r.start_date;
  g.due_date = r.due_date;
  g.last_check_in_status = r.last_check_in_status;
  return g;
}

GoalPtr CycleGoals::Find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

const std::vector<GoalPtr>& CycleGoals::Children(
    const std::string& parent_id) const {
  static const std::vector<GoalPtr> kNone;
  auto it = children_.find(parent_id);
  return it == children_.end() ? kNone : it->second;
}

void CycleGoals::Clear() {
  by_id_.clear();
  children_.clear();
}

void CycleGoals::Remove(const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto kids = children_.find(it->second->parent_id);
  if (kids != children_.end()) {
    auto& v = kids->second;
    auto at = std::lower_bound(v.begin(), v.end(), it->second, ById);
    if (at != v.end() && (*at)->id == id) v.erase(at);
    if (v.empty()) children_.erase(kids);
  }
  by_id_.erase(it);
}

void CycleGoals::Put(GoalPtr g) {
  Remove(g->id);
  auto& v = children_[g->parent_id];
  v.insert(std::upper_bound(v.begin(), v.end(), g, ById), g);
  by_id_[g->id] = std::move(g);
}

GoalIndex::GoalIndex(GoalRepository* repo, size_t max_cycles)
    : repo_(repo), max_cycles_(std::max<size_t>(1, max_cycles)) {}

int64_t GoalIndex::full_loads() const {
  absl::MutexLock lock(&mu_);
  return full_loads_;
}

int64_t GoalIndex::goals_reread() const {
  absl::MutexLock lock(&mu_);
  return goals_reread_;
}

std::shared_ptr<GoalIndex::Entry> GoalIndex::EntryOf(
    const std::string& cycle_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = cycles_.begin(); it != cycles_.end(); ++it) {
    if (it->first == cycle_id) {
      cycles_.splice(cycles_.begin(), cycles_, it);
      return cycles_.front().second;
    }
  }
  cycles_.emplace_front(cycle_id, std::make_shared<Entry>());
  // Readers of an evicted cycle keep it alive until they are done.
  while (cycles_.size() > max_cycles_) cycles_.pop_back();
  return cycles_.front().second;
}

absl::Status GoalIndex::Load(const std::string& cycle_id, Entry& e,
                             int64_t head, bool exact) {
  auto rows = repo_->RowsOfCycle(cycle_id);
  if (!rows.ok()) return rows.status();
  e.goals.Clear();
  for (const auto& r : *rows) {
    auto g = std::make_shared<const Goal>(GoalFromRow(r));
    e.goals.children_[g->parent_id].push_back(g);
    e.goals.by_id_[g->id] = std::move(g);
  }
  for (auto& [parent, kids] : e.goals.children_)
    std::sort(kids.begin(), kids.end(), ById);
  // The rows were read after the head: they hold every change up to it (and
  // perhaps some after, which the next catch-up reads again harmlessly).
  e.loaded = exact;
  e.seq = head;
  absl::MutexLock lock(&mu_);
  ++full_loads_;
  return absl::OkStatus();
}

absl::Status GoalIndex::CatchUp(const std::string& cycle_id, Entry& e) {
  auto head = repo_->ChangeHead();
  if (!head.ok()) {
    if (head.status().code() != absl::StatusCode::kUnimplemented)
      return head.status();
    return Load(cycle_id, e, 0, /*exact=*/false);
  }
  if (!e.loaded) return Load(cycle_id, e, *head, true);
  if (*head <= e.seq) return absl::OkStatus();
  auto ids = repo_->GoalsChanged(e.seq, *head);
  if (!ids.ok()) {
    if (ids.status().code() != absl::StatusCode::kOutOfRange)
      return ids.status();
    return Load(cycle_id, e, *head, true);
  }
  if (ids->size() > kMaxReread) return Load(cycle_id, e, *head, true);
  if (!ids->empty()) {
    auto rows = repo_->Rows(*ids);
    if (!rows.ok()) return rows.status();
    absl::flat_hash_set<std::string> seen;
    for (const auto& r : *rows) {
      seen.insert(r.id);
      if (r.cycle_id == cycle_id) {
        e.goals.Put(std::make_shared<const Goal>(GoalFromRow(r)));
      } else {
        e.goals.Remove(r.id);  // moved to another cycle
      }
    }
    for (const auto& id : *ids) {
      if (!seen.contains(id)) e.goals.Remove(id);  // deleted
    }
    absl::MutexLock lock(&mu_);
    goals_reread_ += static_cast<int64_t>(ids->size());
  }
  e.seq = *head;
  return absl::OkStatus();
}

absl::Status GoalIndex::Read(const std::string& cycle_id,
                             const std::function<void(const CycleGoals&)>& fn) {
  std::shared_ptr<Entry> e = EntryOf(cycle_id);
  {
    absl::MutexLock lock(&e->mu);
    if (auto st = CatchUp(cycle_id, *e); !st.ok()) {
      e->loaded = false;  // read it whole next time
      return st;
    }
  }
  absl::ReaderMutexLock lock(&e->mu);
  fn(e->goals);
  return absl::OkStatus();
}

}  // namespace sightline::goals
