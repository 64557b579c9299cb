#include "lib/auth/principal.h"

#include <algorithm>

namespace sightline::auth {

absl::optional<Role> ParseRole(absl::string_view name) {
  if (name == "employee") return Role::kEmployee;
  if (name == "manager") return Role::kManager;
  if (name == "hr_admin") return Role::kHrAdmin;
  if (name == "service") return Role::kService;
  return absl::nullopt;
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEmployee:
      return "employee";
    case Role::kManager:
      return "manager";
    case Role::kHrAdmin:
      return "hr_admin";
    case Role::kService:
      return "service";
  }
  return "unknown";
}

bool Principal::HasRole(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

}  // namespace sightline::auth
