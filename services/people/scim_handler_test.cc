// The SCIM handler over the real PeopleService and an in-memory repository:
// requests in, answers out, no server.

#include "services/people/scim_handler.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/service.h"
#include "services/people/fake_repository.h"

namespace sightline::people {
namespace {

using scim::Json;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class ScimHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("scim-handler");
    tokens_ = std::make_unique<testing::TestTokens>(dir_);
    auth::VerifierConfig config;
    auto key = auth::ReadKeyFile(tokens_->secret_file());
    ASSERT_TRUE(key.ok()) << key.status();
    config.key = *key;
    auto v = auth::TokenVerifier::Create(config);
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = std::move(*v);
    int n = 0;
    PeopleOptions options;
    options.new_id = [n]() mutable { return absl::StrCat("id", ++n); };
    service_ = std::make_unique<PeopleService>(&repo_, std::move(options));
    handler_ = std::make_unique<ScimHandler>(service_.get(), verifier_.get(),
                                             ScimOptions{.max_results = 3});
    admin_ =
        absl::StrCat("Bearer ", tokens_->Mint("okta", {auth::Role::kHrAdmin}));
  }
  void TearDown() override { testing::RemoveTree(dir_); }

  ScimResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "",
                    std::multimap<std::string, std::string> query = {},
                    const std::string& if_match = "") {
    ScimRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.query = std::move(query);
    r.authorization = admin_;
    r.if_match = if_match;
    r.base = "http://h/scim/v2";
    return handler_->Handle(r);
  }
  static Json Body(const ScimResponse& r) { return Json::parse(r.body); }

  std::string CreateUser(const std::string& user,
                         const std::string& extra = "") {
    auto r = Call("POST", "/Users",
                  absl::StrCat(R"({"userName": ")", user,
                               R"(", "displayName": "Someone")", extra, "}"));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? Body(r)["id"].get<std::string>() : "";
  }

  std::string dir_;
  std::unique_ptr<testing::TestTokens> tokens_;
  std::unique_ptr<auth::TokenVerifier> verifier_;
  FakePeopleRepository repo_;
  std::unique_ptr<PeopleService> service_;
  std::unique_ptr<ScimHandler> handler_;
  std::string admin_;
};

TEST_F(ScimHandlerTest, TokensAreCheckedBeforeAnything) {
  ScimRequest r;
  r.method = "GET";
  r.path = "/Users";
  auto none = handler_->Handle(r);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Body(none)["schemas"][0], scim::kErrorSchema);
  r.authorization = "Bearer not-a-jwt";
  EXPECT_EQ(handler_->Handle(r).status, 401);
  r.authorization = absl::StrCat("Bearer ", tokens_->Expired("okta"));
  EXPECT_EQ(handler_->Handle(r).status, 401);
  r.authorization =
      absl::StrCat("Bearer ", tokens_->Mint("kenji", {auth::Role::kManager}));
  auto denied = handler_->Handle(r);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Body(denied)["status"], "403");
  r.authorization =
      absl::StrCat("Bearer ", tokens_->Mint("hris", {auth::Role::kService}));
  EXPECT_EQ(handler_->Handle(r).status, 200);
  EXPECT_EQ(repo_.syncs(), 0);
}

TEST_F(ScimHandlerTest, CreateGetFilterAndConflict) {
  std::string id = CreateUser("Ana@Example.com", R"(, "externalId": "okta-1")");
  ASSERT_FALSE(id.empty());
  auto got = Call("GET", "/Users/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.etag, "W/\"1\"");
  EXPECT_EQ(Body(got)["userName"], "ana@example.com");
  auto by_name = Call("GET", "/Users", "",
                      {{"filter", R"(userName eq "ANA@example.com")"}});
  ASSERT_EQ(by_name.status, 200);
  EXPECT_EQ(Body(by_name)["totalResults"], 1);
  EXPECT_EQ(Body(by_name)["Resources"][0]["id"], id);
  auto none =
      Call("GET", "/Users", "", {{"filter", R"(externalId eq "nobody")"}});
  EXPECT_EQ(Body(none)["totalResults"], 0);
  EXPECT_THAT(Body(none)["Resources"], SizeIs(0));
  auto dup = Call("POST", "/Users", R"({"userName": "ana@example.com"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(Body(dup)["scimType"], "uniqueness");
  auto bad_filter =
      Call("GET", "/Users", "", {{"filter", R"(userName sw "a")"}});
  EXPECT_EQ(bad_filter.status, 400);
  EXPECT_EQ(Body(bad_filter)["scimType"], "invalidFilter");
  EXPECT_EQ(Call("GET", "/Users/nope").status, 404);
}

TEST_F(ScimHandlerTest, DirectoryRulesComeBackAsScimErrors) {
  auto bad_email = Call("POST", "/Users", R"({"userName": "not an email"})");
  EXPECT_EQ(bad_email.status, 400);
  EXPECT_EQ(Body(bad_email)["scimType"], "invalidValue");
  EXPECT_THAT(Body(bad_email)["detail"].get<std::string>(),
              HasSubstr("userName:"));
  EXPECT_TRUE(repo_.people().empty());
  // a reports to b; making b report to a would close a loop.
  std::string b = CreateUser("b@example.com");
  std::string a = CreateUser(
      "a@example.com",
      absl::StrCat(
          R"(, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": ")",
          b, R"("}})"));
  auto loop = Call(
      "PATCH", "/Users/" + b,
      absl::StrCat(
          R"({"Operations": [{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": ")",
          a, R"("}]})"));
  EXPECT_EQ(loop.status, 400);
  EXPECT_THAT(Body(loop)["detail"].get<std::string>(), HasSubstr("cycle"));
  auto ghost = Call(
      "PATCH", "/Users/" + b,
      R"({"Operations": [{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "ghost"}]})");
  EXPECT_EQ(ghost.status, 400);
  EXPECT_THAT(Body(ghost)["detail"].get<std::string>(), HasSubstr("manager:"));
  auto moved = Call(
      "PATCH", "/Users/" + b,
      R"({"Operations": [{"op": "replace", "path": "externalId", "value": "other"}]})");
  EXPECT_EQ(moved.status, 400);
  EXPECT_EQ(Body(moved)["scimType"], "mutability");
}

TEST_F(ScimHandlerTest, IfMatchGuardsWritesAndDeleteDeactivates) {
  std::string id = CreateUser("c@example.com");
  auto stale = Call(
      "PATCH", "/Users/" + id,
      R"({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})",
      {}, "W/\"9\"");
  EXPECT_EQ(stale.status, 412);
  auto ok = Call(
      "PATCH", "/Users/" + id,
      R"({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})",
      {}, "W/\"1\"");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Body(ok)["title"], "Lead");
  EXPECT_EQ(ok.etag, "W/\"2\"");
  // The same change again changes nothing: same revision.
  auto again = Call(
      "PATCH", "/Users/" + id,
      R"({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})");
  EXPECT_EQ(again.etag, "W/\"2\"");
  EXPECT_EQ(Call("DELETE", "/Users/" + id).status, 204);
  EXPECT_EQ(repo_.people().at(id).status, PersonStatus::kTerminated);
  EXPECT_FALSE(repo_.people().at(id).end_date.empty());
  auto after = Call("GET", "/Users/" + id);
  EXPECT_EQ(Body(after)["active"], false);
  EXPECT_EQ(Call("DELETE", "/Users/" + id).status, 204);  // still one person
  auto back =
      Call("PATCH", "/Users/" + id,
           R"({"Operations": [{"op": "replace", "value": {"active": true}}]})");
  EXPECT_EQ(Body(back)["active"], true);
  EXPECT_TRUE(repo_.people().at(id).end_date.empty());
}

TEST_F(ScimHandlerTest, PagingCountsTheWholeDirectory) {
  for (int i = 0; i < 5; ++i) CreateUser(absl::StrCat("u", i, "@example.com"));
  auto first = Call("GET", "/Users", "", {{"count", "2"}});
  EXPECT_EQ(Body(first)["totalResults"], 5);
  EXPECT_THAT(Body(first)["Resources"], SizeIs(2));
  auto last = Call("GET", "/Users", "", {{"startIndex", "5"}, {"count", "2"}});
  EXPECT_THAT(Body(last)["Resources"], SizeIs(1));
  EXPECT_EQ(Body(last)["startIndex"], 5);
  auto capped = Call("GET", "/Users", "", {{"count", "100"}});
  EXPECT_THAT(Body(capped)["Resources"], SizeIs(3));  // max_results
  EXPECT_EQ(Call("GET", "/Users", "", {{"count", "x"}}).status, 400);
}

TEST_F(ScimHandlerTest, GroupsAreTeamsAndMembershipMovesPeople) {
  std::string a = CreateUser("a@example.com");
  std::string b = CreateUser("b@example.com");
  auto g = Call(
      "POST", "/Groups",
      absl::StrCat(R"({"displayName": "Platform", "members": [{"value": ")", a,
                   R"("}]})"));
  ASSERT_EQ(g.status, 201) << g.body;
  std::string gid = Body(g)["id"];
  EXPECT_THAT(Body(g)["members"], SizeIs(1));
  EXPECT_EQ(repo_.people().at(a).team_id, gid);
  auto patched = Call(
      "PATCH", "/Groups/" + gid,
      absl::StrCat(
          R"({"Operations": [{"op": "add", "path": "members", "value": [{"value": ")",
          b, R"("}]}, {"op": "remove", "path": "members[value eq \")", a,
          R"(\"]"}]})"));
  ASSERT_EQ(patched.status, 200) << patched.body;
  ASSERT_THAT(Body(patched)["members"], SizeIs(1));
  EXPECT_EQ(Body(patched)["members"][0]["value"], b);
  EXPECT_EQ(repo_.people().at(a).team_id, "");
  auto user = Call("GET", "/Users/" + b);
  EXPECT_EQ(Body(user)[scim::kEnterpriseSchema]["department"], "Platform");
  auto listed = Call("GET", "/Groups", "",
                     {{"filter", R"(displayName eq "Platform")"},
                      {"excludedAttributes", "members"}});
  EXPECT_EQ(Body(listed)["totalResults"], 1);
  EXPECT_FALSE(Body(listed)["Resources"][0].contains("members"));
  auto dup = Call("POST", "/Groups", R"({"displayName": "Platform"})");
  EXPECT_EQ(dup.status, 409);
  auto ghost = Call(
      "PATCH", "/Groups/" + gid,
      R"({"Operations": [{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]})");
  EXPECT_EQ(ghost.status, 400);
  EXPECT_EQ(Call("DELETE", "/Groups/" + gid).status, 204);
  EXPECT_EQ(repo_.people().at(b).team_id, "");
  EXPECT_EQ(repo_.teams().count(gid), 1u);  // the team stays on record
}

TEST_F(ScimHandlerTest, DiscoveryEndpoints) {
  auto spc = Call("GET", "/ServiceProviderConfig");
  ASSERT_EQ(spc.status, 200);
  EXPECT_EQ(Body(spc)["patch"]["supported"], true);
  EXPECT_EQ(Body(spc)["filter"]["maxResults"], 3);
  auto types = Call("GET", "/ResourceTypes");
  EXPECT_EQ(Body(types)["totalResults"], 2);
  EXPECT_EQ(Call("GET", "/ResourceTypes/User").status, 200);
  auto schema = Call("GET", std::string("/Schemas/") + scim::kEnterpriseSchema);
  EXPECT_EQ(schema.status, 200);
  EXPECT_EQ(Call("GET", "/Schemas/nope").status, 404);
  EXPECT_EQ(Call("POST", "/Schemas").status, 405);
  EXPECT_EQ(Call("GET", "/Elsewhere").status, 404);
}

TEST_F(ScimHandlerTest, IdempotencyKeyReplaysTheFirstCreate) {
  ScimRequest r;
  r.method = "POST";
  r.path = "/Users";
  r.authorization = admin_;
  r.base = "http://h/scim/v2";
  r.idempotency_key = "create-ana-1";
  r.body = R"({"userName": "ana@example.com"})";
  auto first = handler_->Handle(r);
  ASSERT_EQ(first.status, 201) << first.body;
  auto retry = handler_->Handle(r);
  EXPECT_EQ(retry.status, 201) << retry.body;
  EXPECT_EQ(Body(retry)["id"], Body(first)["id"]);
  EXPECT_EQ(retry.location, first.location);
  EXPECT_EQ(repo_.people().size(), 1u);
  // Without the key the same body is a duplicate.
  r.idempotency_key.clear();
  EXPECT_EQ(handler_->Handle(r).status, 409);
  // The key with another body is refused.
  r.idempotency_key = "create-ana-1";
  r.body = R"({"userName": "bo@example.com"})";
  auto reused = handler_->Handle(r);
  EXPECT_EQ(reused.status, 400);
  EXPECT_EQ(repo_.people().size(), 1u);
}

TEST_F(ScimHandlerTest, NonJsonBodiesAreInvalidSyntax) {
  auto r = Call("POST", "/Users", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["scimType"], "invalidSyntax");
  auto arr = Call("POST", "/Users", "[]");
  EXPECT_EQ(Body(arr)["scimType"], "invalidSyntax");
}

}  // namespace
}  // namespace sightline::people
