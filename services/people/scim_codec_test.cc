#include "services/people/scim_codec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/status_matchers.h"

namespace sightline::people::scim {
namespace {

using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string TypeOf(const absl::Status& st) {
  return ErrorFor(st, false).scim_type;
}

Json J(const char* text) { return Json::parse(text); }

TEST(ScimCodecTest, OktaCreateBodyMapsAndIgnoresWhatIsNotStored) {
  auto c = ParseUser(J(R"({
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "isabella.rossi@example.com",
    "name": {"givenName": "Isabella", "familyName": "Rossi"},
    "emails": [{"primary": true, "value": "isabella.rossi@example.com", "type": "work"}],
    "displayName": "Isabella Rossi", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [], "password": "1mz050nq", "active": true})"),
                     true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->user_name, "isabella.rossi@example.com");
  EXPECT_EQ(c->external_id, "00ujl29u0le5T6Aj10h7");
  EXPECT_EQ(c->display_name, "Isabella Rossi");
  EXPECT_EQ(c->active, true);
  EXPECT_EQ(c->name_display, "Isabella Rossi");
  EXPECT_FALSE(c->title.has_value());  // not asserted: left as it is
}

TEST(ScimCodecTest, EnterpriseExtensionCarriesManagerAndDepartment) {
  auto c = ParseUser(J(R"({
    "userName": "a@example.com", "title": "Engineer",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "department": "Platform", "manager": {"value": "m1"}, "employeeNumber": "42"}})"),
                     true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->department, "Platform");
  EXPECT_EQ(c->manager_id, "m1");
  EXPECT_EQ(c->title, "Engineer");
}

TEST(ScimCodecTest, BadUserBodiesSayWhatIsWrong) {
  auto unknown =
      ParseUser(J(R"({"userName": "a@example.com", "shoeSize": 42})"), true);
  EXPECT_THAT(unknown.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("shoeSize")));
  EXPECT_EQ(TypeOf(unknown.status()), "invalidSyntax");
  auto type = ParseUser(J(R"({"userName": 7})"), true);
  EXPECT_THAT(type.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("userName must be a string")));
  EXPECT_EQ(TypeOf(type.status()), "invalidValue");
  auto active =
      ParseUser(J(R"({"userName": "a@example.com", "active": "maybe"})"), true);
  EXPECT_EQ(TypeOf(active.status()), "invalidValue");
  auto missing = ParseUser(J(R"({"displayName": "No Name"})"), true);
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("userName is required")));
  auto schemas =
      ParseUser(J(R"({"userName": "a@example.com", "schemas": "x"})"), true);
  EXPECT_EQ(TypeOf(schemas.status()), "invalidSyntax");
  auto ext = ParseUser(J(R"({"userName": "a@example.com",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"badge": "1"}})"),
                       true);
  EXPECT_THAT(ext.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("badge")));
}

TEST(ScimCodecTest, EntraPatchOperations) {
  // Capitalised ops, "False" as a string, extension paths with a bare id.
  auto c = ParseUserPatch(J(R"({
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
      {"op": "Replace", "path": "active", "value": "False"},
      {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x@example.com"},
      {"op": "Replace", "path": "name.familyName", "value": "Updated"},
      {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m2"},
      {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
      {"op": "Replace", "path": "displayName", "value": "New Name"}]})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->active, false);
  EXPECT_EQ(c->manager_id, "m2");
  EXPECT_EQ(c->department, "Sales");
  EXPECT_EQ(c->display_name, "New Name");
  EXPECT_FALSE(c->user_name.has_value());
}

TEST(ScimCodecTest, OktaPatchWithoutPathAndRemovals) {
  auto c = ParseUserPatch(
      J(R"({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "value": {"active": true, "title": "Lead"}},
                   {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->active, true);
  EXPECT_EQ(c->title, "Lead");
  EXPECT_EQ(c->manager_id, "");  // removed
  // Entra puts extension paths inside a path-less value too.
  auto entra = ParseUserPatch(J(R"({"Operations": [{"op": "Replace", "value": {
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}}]})"));
  ASSERT_TRUE(entra.ok()) << entra.status();
  EXPECT_EQ(entra->department, "Ops");
}

TEST(ScimCodecTest, BadPatchesHaveTheirScimType) {
  EXPECT_EQ(
      TypeOf(
          ParseUserPatch(J(R"({"Operations": [{"op": "remove"}]})")).status()),
      "noTarget");
  EXPECT_EQ(
      TypeOf(
          ParseUserPatch(
              J(R"({"Operations": [{"op": "replace", "path": "favouriteColour", "value": "x"}]})"))
              .status()),
      "invalidPath");
  EXPECT_EQ(
      TypeOf(ParseUserPatch(
                 J(R"({"Operations": [{"op": "move", "path": "title"}]})"))
                 .status()),
      "invalidSyntax");
  EXPECT_EQ(TypeOf(ParseUserPatch(J(R"({"Operations": []})")).status()),
            "invalidSyntax");
  EXPECT_EQ(
      TypeOf(ParseUserPatch(
                 J(R"({"Operations": [{"op": "remove", "path": "userName"}]})"))
                 .status()),
      "mutability");
  EXPECT_EQ(
      TypeOf(
          ParseUserPatch(
              J(R"({"Operations": [{"op": "replace", "path": "title", "value": 3}]})"))
              .status()),
      "invalidValue");
}

TEST(ScimCodecTest, GroupPatchesAsOktaAndEntraSendThem) {
  auto c = ParseGroupPatch(J(R"({"Operations": [
      {"op": "add", "path": "members", "value": [{"value": "u1", "display": "U One"}]},
      {"op": "remove", "path": "members[value eq \"u2\"]"},
      {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
      {"op": "replace", "value": {"id": "g1", "displayName": "Renamed"}}]})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->add_members, ElementsAre("u1"));
  EXPECT_THAT(c->remove_members, ElementsAre("u2", "u3"));
  EXPECT_EQ(c->display_name, "Renamed");
  EXPECT_FALSE(c->members.has_value());
  auto replace = ParseGroupPatch(J(R"({"Operations": [
      {"op": "replace", "path": "members", "value": [{"value": "u9"}]}]})"));
  ASSERT_TRUE(replace.ok());
  ASSERT_TRUE(replace->members.has_value());
  EXPECT_THAT(*replace->members, ElementsAre("u9"));
  auto bad = ParseGroupPatch(J(
      R"({"Operations": [{"op": "add", "path": "members", "value": [{"id": "u1"}]}]})"));
  EXPECT_EQ(TypeOf(bad.status()), "invalidSyntax");
  auto bad_value = ParseGroupPatch(J(
      R"({"Operations": [{"op": "add", "path": "members", "value": "u1"}]})"));
  EXPECT_EQ(TypeOf(bad_value.status()), "invalidValue");
}

TEST(ScimCodecTest, FiltersAreEqOnKnownAttributesOnly) {
  auto f = ParseFilter(R"(userName eq "Ana@Example.com")",
                       {"userName", "externalId"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->attribute, "userName");
  EXPECT_EQ(f->value, "Ana@Example.com");
  auto cased =
      ParseFilter(R"(EXTERNALID EQ "a \"b\"")", {"userName", "externalId"});
  ASSERT_TRUE(cased.ok()) << cased.status();
  EXPECT_EQ(cased->attribute, "externalId");
  EXPECT_EQ(cased->value, "a \"b\"");
  for (const char* bad :
       {R"(userName co "a")", R"(title eq "x")", "userName eq a",
        R"(userName eq "a" and active eq true)", "", "userName"}) {
    auto st = ParseFilter(bad, {"userName", "externalId"}).status();
    EXPECT_EQ(TypeOf(st), "invalidFilter") << bad;
  }
}

TEST(ScimCodecTest, VersionsRoundTripAndForeignEtagsAreZero) {
  EXPECT_EQ(Version(7), "W/\"7\"");
  EXPECT_EQ(ParseVersion("W/\"7\""), 7);
  EXPECT_EQ(ParseVersion("\"7\""), 7);
  EXPECT_EQ(ParseVersion("W/\"abc\""), 0);
  EXPECT_EQ(ParseVersion("7"), 0);
}

TEST(ScimCodecTest, ApplyResolvesDepartmentByNameThenKey) {
  Snapshot s;
  Team a;
  a.id = "t1";
  a.external_id = "ENG";
  a.display_name = "Engineering";
  s.teams = {a};
  Person p;
  p.display_name = "x";
  UserChange c;
  c.department = "Engineering";
  ASSERT_TRUE(ApplyUserChange(s, c, &p).ok());
  EXPECT_EQ(p.team_id, "t1");
  c.department = "ENG";
  p.team_id.clear();
  ASSERT_TRUE(ApplyUserChange(s, c, &p).ok());
  EXPECT_EQ(p.team_id, "t1");
  c.department = "Nowhere";
  EXPECT_EQ(TypeOf(ApplyUserChange(s, c, &p)), "invalidValue");
  c.department = "";
  ASSERT_TRUE(ApplyUserChange(s, c, &p).ok());
  EXPECT_EQ(p.team_id, "");
}

TEST(ScimCodecTest, UserJsonCarriesMetaExtensionAndActive) {
  Person p;
  p.id = "p1";
  p.external_id = "E1";
  p.email = "a@example.com";
  p.display_name = "A";
  p.status = PersonStatus::kTerminated;
  p.revision = 4;
  Person m;
  m.id = "m1";
  m.display_name = "Boss";
  Team t;
  t.id = "t1";
  t.display_name = "Platform";
  Json j = UserJson(p, &t, &m, "http://h/scim/v2");
  EXPECT_EQ(j["active"], false);
  EXPECT_EQ(j["meta"]["version"], "W/\"4\"");
  EXPECT_EQ(j["meta"]["location"], "http://h/scim/v2/Users/p1");
  EXPECT_EQ(j[kEnterpriseSchema]["manager"]["value"], "m1");
  EXPECT_EQ(j[kEnterpriseSchema]["department"], "Platform");
  EXPECT_EQ(j["groups"][0]["value"], "t1");
  SelectAttributes("", "groups,emails", &j);
  EXPECT_FALSE(j.contains("groups"));
  EXPECT_FALSE(j.contains("emails"));
  SelectAttributes("userName", "", &j);
  EXPECT_TRUE(j.contains("userName"));
  EXPECT_TRUE(j.contains("id"));
  EXPECT_FALSE(j.contains("displayName"));
}

TEST(ScimCodecTest, ErrorsMapToHttpStatusAndScimAttributes) {
  auto sync_error = status::InvalidFields(
      {{"records[0].email", "'x' is not a valid email address"},
       {"records[0].manager_external_id",
        "reporting lines form a cycle: a -> b"}});
  ErrorAnswer a = ErrorFor(sync_error, false);
  EXPECT_EQ(a.http_status, 400);
  EXPECT_EQ(a.scim_type, "invalidValue");
  EXPECT_THAT(a.detail,
              HasSubstr("userName: 'x' is not a valid email address"));
  EXPECT_THAT(a.detail, HasSubstr("manager: reporting lines form a cycle"));
  EXPECT_EQ(
      ErrorFor(status::InvalidFields({{"records[2].team_external_id", "x"}}),
               true)
          .detail,
      "members: x");
  EXPECT_EQ(ErrorFor(absl::AlreadyExistsError("x"), false).http_status, 409);
  EXPECT_EQ(ErrorFor(absl::AlreadyExistsError("x"), false).scim_type,
            "uniqueness");
  EXPECT_EQ(ErrorFor(absl::AbortedError("x"), false).http_status, 412);
  EXPECT_EQ(ErrorFor(absl::NotFoundError("x"), false).http_status, 404);
  EXPECT_EQ(ErrorFor(absl::UnavailableError("x"), false).http_status, 503);
  ErrorAnswer internal = ErrorFor(absl::InternalError("secret detail"), false);
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_EQ(internal.detail, "internal error");
  Json e = ErrorJson(409, "uniqueness", "taken");
  EXPECT_EQ(e["schemas"][0], kErrorSchema);
  EXPECT_EQ(e["status"], "409");
  EXPECT_EQ(e["scimType"], "uniqueness");
}

}  // namespace
}  // namespace sightline::people::scim
