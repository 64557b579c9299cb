#pragma once

// Helpers the files of GoalsService share (goals_service.cc defines them).
// Not for use outside GoalsService.

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/goals/model.h"

namespace sightline::goals::internal {

inline constexpr int kMaxDepth = 64;
inline constexpr int kMaxKeyResults = 50;

absl::Status NotFoundGoal(const std::string& id);

bool Contains(const std::vector<std::string>& v, const std::string& x);

// Health and expected progress describe goals being worked on: ACTIVE ones.
bool HasHealth(GoalState s);

absl::Status CheckEtag(const std::string& given, const std::string& current);

absl::Status CheckMask(const std::vector<std::string>& mask,
                       const std::set<std::string>& known);

}  // namespace sightline::goals::internal
