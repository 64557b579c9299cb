// GoalsService: alignment trees and lineage.

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "services/goals/goals_service.h"
#include "services/goals/rules.h"
#include "services/goals/service_internal.h"

namespace sightline::goals {

using internal::HasHealth;
using internal::kMaxDepth;
using internal::NotFoundGoal;

absl::StatusOr<std::vector<TreeNode>> GoalsService::AlignmentTree(
    const Caller& caller, const TreeRoot& root, int depth) {
  if (depth < 0 || depth > kMaxDepth)
    return status::InvalidField("depth", "must be within 0..64");
  std::string cycle_id = root.cycle_id;
  if (root.kind == TreeRoot::Kind::kGoal) {
    auto g = repo_->GetGoal(root.id);
    if (!g.ok()) return g.status();
    if (!CanRead(caller, *g, *org_)) return NotFoundGoal(root.id);
    cycle_id = g->cycle_id;
  }
  auto cycle = CachedCycle(cycle_id);
  if (!cycle.ok()) {
    if (cycle.status().code() == absl::StatusCode::kNotFound &&
        root.kind != TreeRoot::Kind::kGoal) {
      return status::InvalidField(
          "cycle", absl::StrCat("cycles/", cycle_id, " does not exist"));
    }
    return cycle.status();
  }
  const absl::Time now = clock_();
  std::vector<TreeNode> out;
  auto st = index_.Read(cycle_id, [&](const CycleGoals& goals) {
    // Roots, sorted by id; a root below another root is shown under it, once.
    std::vector<GoalPtr> roots;
    if (root.kind == TreeRoot::Kind::kGoal) {
      if (GoalPtr g = goals.Find(root.id)) roots.push_back(std::move(g));
    } else {
      goals.ForEach([&](const GoalPtr& g) {
        bool is_root = false;
        switch (root.kind) {
          case TreeRoot::Kind::kCompany:
            is_root = g->parent_id.empty() && g->level == Level::kCompany;
            break;
          case TreeRoot::Kind::kTeam:
            is_root = g->owner.team_id == root.id;
            break;
          case TreeRoot::Kind::kPerson:
            is_root = g->owner.person_id == root.id;
            break;
          default:
            break;
        }
        if (is_root) roots.push_back(g);
      });
      absl::flat_hash_set<std::string> root_ids;
      for (const auto& g : roots) root_ids.insert(g->id);
      std::erase_if(roots, [&](const GoalPtr& g) {
        GoalPtr up = goals.Find(g->parent_id);
        for (int d = 0; up != nullptr && d < kMaxDepth; ++d) {
          if (root_ids.contains(up->id)) return true;
          up = goals.Find(up->parent_id);
        }
        return false;
      });
      std::sort(
          roots.begin(), roots.end(),
          [](const GoalPtr& a, const GoalPtr& b) { return a->id < b->id; });
    }
    // Expected progress depends only on the window: computed once per window.
    absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, double>
        expected;
    auto emit = [&](const GoalPtr& g, int d) {
      TreeNode n;
      n.id = g->id;
      n.parent_id = g->parent_id;
      n.depth = d;
      n.restricted = !CanRead(caller, *g, *org_);
      if (!n.restricted) {
        if (HasHealth(g->state)) {
          absl::string_view s = g->start_date.empty()
                                    ? absl::string_view(cycle->start_date)
                                    : absl::string_view(g->start_date);
          absl::string_view e = g->due_date.empty()
                                    ? absl::string_view(cycle->end_date)
                                    : absl::string_view(g->due_date);
          auto [it, fresh] = expected.try_emplace({s, e}, 0.0);
          if (fresh) {
            it->second = ExpectedProgress(s, e, now);
          }
          n.expected_progress = it->second;
          n.health = HealthOf(g->progress, n.expected_progress,
                              g->last_check_in_status);
        }
        n.goal = g;
      }
      out.push_back(std::move(n));
    };
    // Level by level: parents before their children, siblings by id.
    std::vector<std::pair<GoalPtr, int>> level;
    for (auto& g : roots) level.push_back({std::move(g), 0});
    absl::flat_hash_set<std::string> visited;
    while (!level.empty()) {
      std::vector<std::pair<GoalPtr, int>> next;
      for (const auto& [g, d] : level) {
        if (!visited.insert(g->id).second) continue;
        emit(g, d);
        if (depth != 0 && d >= depth) continue;
        for (const auto& c : goals.Children(g->id)) next.push_back({c, d + 1});
      }
      level = std::move(next);
    }
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<TreeNode>> GoalsService::Lineage(
    const Caller& caller, const std::string& goal_id) {
  auto first = repo_->GetGoal(goal_id);
  if (!first.ok()) return first.status();
  if (!CanRead(caller, *first, *org_)) return NotFoundGoal(goal_id);
  std::vector<TreeNode> out;
  std::string next = goal_id;
  for (int d = 0; !next.empty() && d < kMaxDepth; ++d) {
    auto peeked = repo_->PeekGoal(next);
    absl::StatusOr<Goal> g = peeked != nullptr
                                 ? absl::StatusOr<Goal>(peeked->value())
                                 : repo_->GetGoal(next);
    if (!g.ok()) break;
    TreeNode n;
    n.id = g->id;
    n.parent_id = g->parent_id;
    n.depth = -d;
    n.restricted = !CanRead(caller, *g, *org_);
    if (!n.restricted) {
      GoalView v = View(*g);
      n.goal = std::make_shared<const Goal>(*g);
      n.expected_progress = v.expected_progress;
      n.health = v.health;
    }
    out.push_back(std::move(n));
    next = g->parent_id;
  }
  return out;
}

}  // namespace sightline::goals
