#include "lib/auth/principal.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sightline::auth {
namespace {

TEST(RoleTest, NamesRoundTrip) {
  for (Role role :
       {Role::kEmployee, Role::kManager, Role::kHrAdmin, Role::kService}) {
    absl::optional<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.has_value()) << RoleName(role);
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_EQ(RoleName(Role::kHrAdmin), "hr_admin");
}

TEST(RoleTest, ParseIsExact) {
  EXPECT_FALSE(ParseRole("").has_value());
  EXPECT_FALSE(ParseRole("Manager").has_value());
  EXPECT_FALSE(ParseRole("hr-admin").has_value());
  EXPECT_FALSE(ParseRole(" employee").has_value());
  EXPECT_FALSE(ParseRole("admin").has_value());
}

TEST(PrincipalTest, HasRoleAndIsService) {
  Principal person{"alice@example.com", {Role::kEmployee, Role::kManager}, {}};
  EXPECT_TRUE(person.HasRole(Role::kManager));
  EXPECT_FALSE(person.HasRole(Role::kHrAdmin));
  EXPECT_FALSE(person.IsService());

  Principal service{"svc-metrics", {Role::kService}, {}};
  EXPECT_TRUE(service.IsService());
  EXPECT_FALSE(service.HasRole(Role::kEmployee));

  Principal nobody{"bob", {}, {}};
  EXPECT_FALSE(nobody.HasRole(Role::kEmployee));
}

}  // namespace
}  // namespace sightline::auth
