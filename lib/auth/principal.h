#pragma once

// Who is calling: the verified claims of a bearer token.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace sightline::auth {

enum class Role { kEmployee, kManager, kHrAdmin, kService };

// "employee", "manager", "hr_admin", "service" (exact, lower case).
absl::optional<Role> ParseRole(absl::string_view name);
absl::string_view RoleName(Role role);

struct Principal {
  // The token's `sub` exactly as issued: an email, an HRIS employee id or a
  // person resource name ("people/abc"). Resolving it to a person is the
  // caller's business.
  std::string subject;
  std::vector<Role> roles;  // no duplicates, in the token's order
  absl::Time expires;       // the token's `exp`

  bool HasRole(Role role) const;
  bool IsService() const { return HasRole(Role::kService); }
};

}  // namespace sightline::auth
