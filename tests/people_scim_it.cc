// SCIM 2.0 through the real binary, on SQLite and on PostgreSQL: the request
// sequences identity providers send, bad input, and SCIM and roster syncs
// writing the same directory.

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "nlohmann/json.hpp"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using Json = nlohmann::json;
using ::sightline::testing::GrpcOk;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kEnterprise[] =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

struct Answer {
  int status = 0;
  Json body;
  std::string etag;
  std::string location;
};

class PeopleScimTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    port_ = FreePort();
    auto c =
        PeopleCluster::Start(GetParam(), {absl::StrCat("--scim_port=", port_)});
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
    token_ = cluster_->AdminToken();
  }

  // One request; `token` empty: none sent.
  Answer Call(const std::string& method, const std::string& path,
              const Json& body = nullptr, const std::string& token = "-",
              httplib::Headers headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(20, 0);
    std::string t = token == "-" ? token_ : token;
    if (!t.empty()) headers.emplace("Authorization", "Bearer " + t);
    std::string full = "/scim/v2" + path;
    std::string payload = body.is_null() ? "" : body.dump();
    const char* type = "application/scim+json";
    httplib::Result res =
        method == "GET"     ? client.Get(full.c_str(), headers)
        : method == "POST"  ? client.Post(full.c_str(), headers, payload, type)
        : method == "PUT"   ? client.Put(full.c_str(), headers, payload, type)
        : method == "PATCH" ? client.Patch(full.c_str(), headers, payload, type)
                            : client.Delete(full.c_str(), headers);
    Answer a;
    if (!res) {
      ADD_FAILURE() << method << " " << path << ": no answer";
      return a;
    }
    a.status = res->status;
    if (!res->body.empty()) a.body = Json::parse(res->body, nullptr, false);
    a.etag = res->get_header_value("ETag");
    a.location = res->get_header_value("Location");
    return a;
  }

  Answer Filter(const std::string& resource, const std::string& filter,
                const std::string& extra = "") {
    return Call("GET", absl::StrCat("/", resource, "?filter=",
                                    httplib::detail::encode_query_param(filter),
                                    extra));
  }

  grpc::Status GetPerson(const std::string& id, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::GetPersonRequest req;
    req.set_name("people/" + id);
    return stub_->GetPerson(&ctx, req, out);
  }

  grpc::Status Lookup(const std::string& ext, pv1::Person* out) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::LookupPersonRequest req;
    req.set_external_id(ext);
    return stub_->LookupPerson(&ctx, req, out);
  }

  int CountPeople() {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::ListPeopleRequest req;
    req.set_page_size(1000);
    pv1::ListPeopleResponse resp;
    EXPECT_THAT(stub_->ListPeople(&ctx, req, &resp), GrpcOk());
    return resp.people_size();
  }

  static Json Patch(Json ops) {
    return {{"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
            {"Operations", std::move(ops)}};
  }

  int port_ = 0;
  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
  std::string token_;
};

// The sequence of Okta's SCIM 2.0 provisioning guide: look up, create,
// retrieve, update, deactivate, reactivate; then push a group.
TEST_P(PeopleScimTest, OktaProvisioningSequence) {
  Answer missing =
      Filter("Users", R"(userName eq "isabella.rossi@example.com")",
             "&startIndex=1&count=100");
  ASSERT_EQ(missing.status, 200);
  EXPECT_EQ(missing.body["totalResults"], 0);

  Json user = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
               {"userName", "isabella.rossi@example.com"},
               {"name", {{"givenName", "Isabella"}, {"familyName", "Rossi"}}},
               {"emails",
                {{{"primary", true},
                  {"value", "isabella.rossi@example.com"},
                  {"type", "work"}}}},
               {"displayName", "Isabella Rossi"},
               {"locale", "en-US"},
               {"externalId", "00ujl29u0le5T6Aj10h7"},
               {"groups", Json::array()},
               {"password", "1mz050nq"},
               {"active", true}};
  Answer created = Call("POST", "/Users", user);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.body["id"];
  EXPECT_EQ(created.location, created.body["meta"]["location"]);
  EXPECT_EQ(created.body["meta"]["version"], "W/\"1\"");

  Answer found = Filter("Users", R"(userName eq "isabella.rossi@example.com")");
  ASSERT_EQ(found.body["totalResults"], 1);
  EXPECT_EQ(found.body["Resources"][0]["id"], id);
  Answer got = Call("GET", "/Users/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["displayName"], "Isabella Rossi");

  // Okta updates a profile with PUT.
  Json put = got.body;
  put["title"] = "Staff Engineer";
  put["displayName"] = "Isabella M. Rossi";
  Answer updated = Call("PUT", "/Users/" + id, put);
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.body["title"], "Staff Engineer");
  EXPECT_EQ(updated.etag, "W/\"2\"");

  Answer off =
      Call("PATCH", "/Users/" + id,
           Patch({{{"op", "replace"}, {"value", {{"active", false}}}}}));
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.body["active"], false);
  pv1::Person p;
  ASSERT_THAT(GetPerson(id, &p), GrpcOk());
  EXPECT_EQ(p.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(p.title(), "Staff Engineer");

  Answer on = Call("PATCH", "/Users/" + id,
                   Patch({{{"op", "replace"}, {"value", {{"active", true}}}}}));
  ASSERT_EQ(on.status, 200) << on.body;
  ASSERT_THAT(GetPerson(id, &p), GrpcOk());
  EXPECT_EQ(p.status(), pv1::Person::ACTIVE);

  // Group push: create with a member, rename, then membership changes.
  Answer second = Call("POST", "/Users",
                       {{"userName", "omar.haddad@example.com"},
                        {"displayName", "Omar Haddad"},
                        {"externalId", "00u2"}});
  ASSERT_EQ(second.status, 201) << second.body;
  std::string id2 = second.body["id"];
  Answer group =
      Call("POST", "/Groups",
           {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
            {"displayName", "Platform"},
            {"members", {{{"value", id}, {"display", "Isabella"}}}}});
  ASSERT_EQ(group.status, 201) << group.body;
  std::string gid = group.body["id"];
  Answer renamed = Call(
      "PATCH", "/Groups/" + gid,
      Patch({{{"op", "replace"},
              {"value", {{"id", gid}, {"displayName", "Platform Team"}}}}}));
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.body["displayName"], "Platform Team");
  Answer moved = Call(
      "PATCH", "/Groups/" + gid,
      Patch(
          {{{"op", "add"}, {"path", "members"}, {"value", {{{"value", id2}}}}},
           {{"op", "remove"},
            {"path", absl::StrCat("members[value eq \"", id, "\"]")}}}));
  ASSERT_EQ(moved.status, 200) << moved.body;
  ASSERT_THAT(moved.body["members"], SizeIs(1));
  EXPECT_EQ(moved.body["members"][0]["value"], id2);
  pv1::Person omar;
  ASSERT_THAT(GetPerson(id2, &omar), GrpcOk());
  EXPECT_EQ(omar.team(), "teams/" + gid);
  ASSERT_THAT(GetPerson(id, &p), GrpcOk());
  EXPECT_EQ(p.team(), "");
}

// Entra ID's provisioning: its capitalised ops, booleans as strings, the
// enterprise extension by path, DELETE, groups listed without members.
TEST_P(PeopleScimTest, EntraProvisioningSequence) {
  Answer nobody = Filter("Users", R"(userName eq "non-existent user")");
  ASSERT_EQ(nobody.status, 200);
  EXPECT_EQ(nobody.body["totalResults"], 0);

  Answer boss = Call(
      "POST", "/Users",
      {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User", kEnterprise}},
       {"externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"},
       {"userName", "Priya.Nair@example.com"},
       {"active", true},
       {"emails",
        {{{"primary", true}, {"type", "work"}, {"value", "p@example.org"}}}},
       {"meta", {{"resourceType", "User"}}},
       {"name",
        {{"formatted", "Priya Nair"},
         {"familyName", "Nair"},
         {"givenName", "Priya"}}},
       {"roles", Json::array()}});
  ASSERT_EQ(boss.status, 201) << boss.body;
  std::string boss_id = boss.body["id"];
  EXPECT_EQ(boss.body["displayName"], "Priya Nair");  // from name
  EXPECT_EQ(boss.body["userName"], "priya.nair@example.com");

  Answer group =
      Call("POST", "/Groups",
           {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Group"}},
            {"externalId", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"},
            {"displayName", "Sales"},
            {"meta", {{"resourceType", "Group"}}}});
  ASSERT_EQ(group.status, 201) << group.body;
  std::string gid = group.body["id"];

  Answer user = Call(
      "POST", "/Users",
      {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User", kEnterprise}},
       {"externalId", "e-2"},
       {"userName", "lucas.martin@example.com"},
       {"displayName", "Lucas Martin"},
       {"title", "Account Executive"},
       {kEnterprise,
        {{"department", "Sales"}, {"manager", {{"value", boss_id}}}}}});
  ASSERT_EQ(user.status, 201) << user.body;
  std::string id = user.body["id"];
  EXPECT_EQ(user.body[kEnterprise]["department"], "Sales");
  EXPECT_EQ(user.body[kEnterprise]["manager"]["value"], boss_id);
  pv1::Person p;
  ASSERT_THAT(GetPerson(id, &p), GrpcOk());
  EXPECT_EQ(p.manager(), "people/" + boss_id);
  EXPECT_EQ(p.team(), "teams/" + gid);

  Answer patched = Call(
      "PATCH", "/Users/" + id,
      Patch({{{"op", "Replace"}, {"path", "title"}, {"value", "Sales Lead"}},
             {{"op", "Replace"},
              {"path", "emails[type eq \"work\"].value"},
              {"value", "lucas@example.org"}},
             {{"op", "Remove"},
              {"path", std::string(kEnterprise) + ":manager"}}}));
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.body["title"], "Sales Lead");
  EXPECT_FALSE(patched.body[kEnterprise].contains("manager"));

  Answer off = Call(
      "PATCH", "/Users/" + id,
      Patch({{{"op", "Replace"}, {"path", "active"}, {"value", "False"}}}));
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.body["active"], false);

  Answer members = Call("PATCH", "/Groups/" + gid,
                        Patch({{{"op", "Add"},
                                {"path", "members"},
                                {"value", {{{"value", boss_id}}}}}}));
  ASSERT_EQ(members.status, 200) << members.body;
  EXPECT_THAT(members.body["members"], SizeIs(2));
  Answer listed = Filter("Groups", R"(displayName eq "Sales")",
                         "&excludedAttributes=members");
  ASSERT_EQ(listed.body["totalResults"], 1);
  EXPECT_EQ(listed.body["Resources"][0]["id"], gid);
  EXPECT_FALSE(listed.body["Resources"][0].contains("members"));
  Answer removed = Call("PATCH", "/Groups/" + gid,
                        Patch({{{"op", "Remove"},
                                {"path", "members"},
                                {"value", {{{"value", boss_id}}}}}}));
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_THAT(removed.body["members"], SizeIs(1));

  // DELETE deactivates; the person stays, terminated, and can come back.
  EXPECT_EQ(Call("DELETE", "/Users/" + boss_id).status, 204);
  ASSERT_THAT(GetPerson(boss_id, &p), GrpcOk());
  EXPECT_EQ(p.status(), pv1::Person::TERMINATED);
  EXPECT_EQ(Call("GET", "/Users/" + boss_id).body["active"], false);
  EXPECT_EQ(CountPeople(), 2);
}

TEST_P(PeopleScimTest, BadInputIsRefusedWithItsScimType) {
  auto expect = [](const Answer& a, int status, const std::string& type,
                   const std::string& detail) {
    EXPECT_EQ(a.status, status) << a.body;
    EXPECT_EQ(a.body["schemas"][0],
              "urn:ietf:params:scim:api:messages:2.0:Error");
    EXPECT_EQ(a.body["status"], absl::StrCat(status));
    if (!type.empty()) {
      EXPECT_EQ(a.body.value("scimType", ""), type) << a.body;
    }
    EXPECT_THAT(a.body.value("detail", ""), HasSubstr(detail));
  };
  expect(
      Call("POST", "/Users", {{"userName", "a@example.com"}, {"shoeSize", 44}}),
      400, "invalidSyntax", "shoeSize");
  expect(Call("POST", "/Users", {{"userName", 12}}), 400, "invalidValue",
         "userName must be a string");
  expect(Call("POST", "/Users",
              {{"userName", "a@example.com"}, {"active", "soon"}}),
         400, "invalidValue", "active");
  expect(Call("POST", "/Users", {{"userName", "not-an-email"}}), 400,
         "invalidValue", "userName");
  expect(Filter("Users", R"(title co "Engineer")"), 400, "invalidFilter", "eq");
  expect(Filter("Users", R"(userName eq "a" or userName eq "b")"), 400,
         "invalidFilter", "");
  ASSERT_EQ(Call("POST", "/Users", {{"userName", "dana@example.com"}}).status,
            201);
  expect(Call("POST", "/Users", {{"userName", "DANA@example.com"}}), 409,
         "uniqueness", "dana@example.com");
  Answer dana = Filter("Users", R"(userName eq "dana@example.com")");
  std::string id = dana.body["Resources"][0]["id"];
  expect(Call("PATCH", "/Users/" + id,
              Patch({{{"op", "replace"}, {"path", "shoeSize"}, {"value", 1}}})),
         400, "invalidPath", "shoeSize");
  expect(Call("PATCH", "/Users/" + id, Patch({{{"op", "remove"}}})), 400,
         "noTarget", "");
  expect(Call("PATCH", "/Users/" + id,
              Patch({{{"op", "replace"}, {"path", "title"}, {"value", "x"}}}),
              "-", {{"If-Match", "W/\"99\""}}),
         412, "", "revision");
  expect(Call("GET", "/Users/does-not-exist"), 404, "", "");
  EXPECT_EQ(CountPeople(), 1);
}

// A person provisioned by the IdP and listed in the HRIS roster is one person,
// whichever came first.
TEST_P(PeopleScimTest, ScimAndRosterSyncMeetOnOnePerson) {
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Incremental(), {PersonMsg("E1", "")}, &resp),
              GrpcOk());
  pv1::Person e1;
  ASSERT_THAT(Lookup("E1", &e1), GrpcOk());
  // The IdP matches on userName before it creates.
  Answer matched = Filter("Users", R"(userName eq "E1@example.com")");
  ASSERT_EQ(matched.body["totalResults"], 1);
  std::string id = matched.body["Resources"][0]["id"];
  EXPECT_EQ("people/" + id, e1.name());
  EXPECT_EQ(Call("POST", "/Users", {{"userName", "e1@example.com"}}).status,
            409);
  ASSERT_EQ(
      Call(
          "PATCH", "/Users/" + id,
          Patch({{{"op", "replace"}, {"path", "title"}, {"value", "Manager"}}}))
          .status,
      200);
  // The roster re-sends E1: the same person, the roster's title again.
  ASSERT_THAT(cluster_->Sync(Incremental(), {PersonMsg("E1", "")}, &resp),
              GrpcOk());
  EXPECT_EQ(resp.people().updated(), 1);
  EXPECT_EQ(resp.people().created(), 0);

  // SCIM first, the roster second.
  Answer s1 = Call("POST", "/Users",
                   {{"userName", "s1@example.com"},
                    {"externalId", "S1"},
                    {"displayName", "From The IdP"}});
  ASSERT_EQ(s1.status, 201) << s1.body;
  auto roster = PersonMsg("S1", "E1");
  ASSERT_THAT(cluster_->Sync(Incremental(), {roster}, &resp), GrpcOk());
  EXPECT_EQ(resp.people().created(), 0);
  pv1::Person s;
  ASSERT_THAT(Lookup("S1", &s), GrpcOk());
  EXPECT_EQ(s.name(), "people/" + s1.body["id"].get<std::string>());
  EXPECT_EQ(s.manager(), e1.name());
  Answer seen = Call("GET", "/Users/" + s1.body["id"].get<std::string>());
  EXPECT_EQ(seen.body[kEnterprise]["manager"]["value"], id);
  EXPECT_EQ(seen.body["userName"], "s1@example.com");
  EXPECT_EQ(CountPeople(), 2);
}

TEST_P(PeopleScimTest, DeactivationShowsUpInTheChangeFeed) {
  Answer created = Call("POST", "/Users",
                        {{"userName", "wen.li@example.com"},
                         {"externalId", "W1"},
                         {"displayName", "Wen Li"}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.body["id"];
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken(), absl::Seconds(30));
  auto reader = stub_->WatchPeople(&ctx, pv1::WatchPeopleRequest());
  reader->WaitForInitialMetadata();
  ASSERT_EQ(Call("DELETE", "/Users/" + id).status, 204);
  pv1::WatchPeopleResponse change;
  ASSERT_TRUE(reader->Read(&change));
  ASSERT_TRUE(change.has_person());
  EXPECT_EQ(change.person().name(), "people/" + id);
  EXPECT_EQ(change.person().status(), pv1::Person::TERMINATED);
  EXPECT_EQ(change.change_type(), pv1::WatchPeopleResponse::UPDATED);
  ctx.TryCancel();
  reader->Finish();
}

TEST_P(PeopleScimTest, OnlyHrAdminAndServiceTokensGetIn) {
  Answer none = Call("GET", "/Users", nullptr, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["status"], "401");
  EXPECT_EQ(Call("GET", "/Users", nullptr, "garbage").status, 401);
  EXPECT_EQ(
      Call("GET", "/Users", nullptr, cluster_->tokens().Expired("okta")).status,
      401);
  Answer employee = Call("POST", "/Users", {{"userName", "x@example.com"}},
                         cluster_->EmployeeToken());
  EXPECT_EQ(employee.status, 403);
  EXPECT_EQ(employee.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error");
  EXPECT_EQ(
      Call("GET", "/ServiceProviderConfig", nullptr, cluster_->ServiceToken())
          .status,
      200);
  EXPECT_EQ(CountPeople(), 0);
  // Counted by method, resource and status; never by id.
  auto metrics = cluster_->service().ScrapeMetrics();
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics,
                        "sightline_scim_requests_total{code=\"401\","
                        "method=\"GET\",resource=\"Users\"}"),
            3);
  EXPECT_EQ(MetricValue(*metrics,
                        "sightline_scim_requests_total{code=\"403\","
                        "method=\"POST\",resource=\"Users\"}"),
            1);
}

INSTANTIATE_TEST_SUITE_P(Db, PeopleScimTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
