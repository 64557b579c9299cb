#include "services/goals/cached_repository.h"

#include "absl/strings/str_cat.h"

namespace sightline::goals {
namespace {
std::string Key(absl::string_view id) { return absl::StrCat("g:", id); }
}  // namespace

absl::StatusOr<Goal> CachedGoalRepository::GetGoal(const std::string& id) {
  uint64_t epoch = local_.epoch();
  auto bytes = redis_->GetOrLoad(Key(id), [&]() -> absl::StatusOr<std::string> {
    auto g = inner_->GetGoal(id);
    if (!g.ok()) return g.status();
    return Encode(*g);
  });
  if (!bytes.ok()) return bytes.status();
  Goal g;
  if (!Decode(*bytes, &g))
    return absl::DataLossError("cached goal does not decode");
  local_.Put(id, std::make_shared<const CachedGoal>(g), epoch);
  return g;
}

void CachedGoalRepository::Invalidate(
    const std::vector<std::string>& goal_ids) {
  if (goal_ids.empty()) return;
  local_.Invalidate(goal_ids);
  std::vector<std::string> keys;
  keys.reserve(goal_ids.size());
  for (const auto& id : goal_ids) keys.push_back(Key(id));
  redis_->Invalidate(keys);
}

absl::Status CachedGoalRepository::Write(
    absl::string_view op, const std::function<absl::Status(GoalTx&)>& fn,
    int64_t* last_seq) {
  std::vector<std::string> touched;
  auto st = inner_->Write(
      op,
      [&](GoalTx& tx) {
        absl::Status s = fn(tx);
        touched.assign(tx.touched().begin(), tx.touched().end());
        return s;
      },
      last_seq);
  // After the commit (or a rollback, which changed nothing: no harm).
  Invalidate(touched);
  return st;
}

absl::Status CachedGoalRepository::WriteWithRowLocks(
    absl::string_view op, const std::function<absl::Status(GoalTx&)>& fn) {
  std::vector<std::string> touched;
  auto st = inner_->WriteWithRowLocks(op, [&](GoalTx& tx) {
    absl::Status s = fn(tx);
    touched.assign(tx.touched().begin(), tx.touched().end());
    return s;
  });
  Invalidate(touched);
  return st;
}

}  // namespace sightline::goals
