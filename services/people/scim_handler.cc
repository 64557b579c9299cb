#include "services/people/scim_handler.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lib/storage/database.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"
#include "services/people/edit.h"

namespace sightline::people {
namespace {

using scim::Json;

constexpr int kReadPage = 1000;

ScimResponse Error(int status, absl::string_view scim_type,
                   absl::string_view detail) {
  ScimResponse r;
  r.status = status;
  r.body = scim::ErrorJson(status, scim_type, detail).dump();
  return r;
}

ScimResponse Error(const absl::Status& st, bool group) {
  scim::ErrorAnswer a = scim::ErrorFor(st, group);
  return Error(a.http_status, a.scim_type, a.detail);
}

ScimResponse Ok(int status, const Json& body) {
  ScimResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

std::string Query(const ScimRequest& r, absl::string_view name) {
  // Parameter names are case-insensitive (RFC 7644 3.4.2: "startIndex").
  for (const auto& [k, v] : r.query) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

bool HasQuery(const ScimRequest& r, absl::string_view name) {
  for (const auto& [k, v] : r.query) {
    if (absl::EqualsIgnoreCase(k, name)) return true;
  }
  return false;
}

// startIndex (1-based, below 1 is 1) and count (below 0 is 0, capped).
absl::Status Paging(const ScimRequest& r, int max, int64_t* start,
                    int64_t* count) {
  *start = 1;
  *count = max;
  if (HasQuery(r, "startIndex")) {
    if (!absl::SimpleAtoi(Query(r, "startIndex"), start)) {
      return scim::Invalid("invalidValue", "startIndex must be an integer");
    }
    if (*start < 1) *start = 1;
  }
  if (HasQuery(r, "count")) {
    if (!absl::SimpleAtoi(Query(r, "count"), count)) {
      return scim::Invalid("invalidValue", "count must be an integer");
    }
    *count = std::clamp<int64_t>(*count, 0, max);
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ParseBody(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return scim::Invalid("invalidSyntax", "the body is not JSON");
  }
  if (!j.is_object()) {
    return scim::Invalid("invalidSyntax", "the body must be a JSON object");
  }
  return j;
}

// If-Match: the revision the client read (0: any). "*" matches any.
absl::StatusOr<int64_t> Expected(const ScimRequest& r) {
  std::string v(absl::StripAsciiWhitespace(r.if_match));
  if (v.empty() || v == "*") return 0;
  int64_t rev = scim::ParseVersion(v);
  // An etag we never issued cannot match.
  if (rev == 0) return absl::AbortedError("If-Match does not match");
  return rev;
}

std::string Today() {
  return absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
}

bool IsNotFoundOrInvalid(const absl::Status& st) {
  return absl::IsNotFound(st) || absl::IsInvalidArgument(st);
}

}  // namespace

ScimHandler::ScimHandler(PeopleService* service,
                         const auth::TokenVerifier* verifier,
                         ScimOptions options)
    : service_(service), verifier_(verifier), options_(options) {}

ScimResponse ScimHandler::Handle(const ScimRequest& r) {
  if (r.authorization.empty()) {
    return Error(401, "", "a bearer token is required");
  }
  auto who = verifier_->VerifyAuthorization(r.authorization, absl::Now());
  if (!who.ok()) return Error(401, "", who.status().message());
  if (auto st = service_->CheckCanSync(*who); !st.ok()) {
    ScimResponse e =
        Error(403, "", "SCIM needs a token with the hr_admin or service role");
    e.principal = who->subject;
    return e;
  }
  ScimResponse resp = Route(*who, r);
  resp.principal = who->subject;
  return resp;
}

ScimResponse ScimHandler::Route(const auth::Principal& who,
                                const ScimRequest& r) {
  std::vector<std::string> parts =
      absl::StrSplit(r.path, '/', absl::SkipEmpty());
  if (parts.empty()) return Error(404, "", "no such endpoint");
  const std::string& kind = parts[0];
  std::string id = parts.size() > 1 ? parts[1] : "";
  if (parts.size() > 2) return Error(404, "", "no such endpoint");
  bool get = r.method == "GET";
  if (kind == "ServiceProviderConfig" || kind == "ResourceTypes" ||
      kind == "Schemas") {
    if (!get) return Error(405, "", "read-only endpoint");
    Json all =
        kind == "ServiceProviderConfig"
            ? scim::ServiceProviderConfigJson(r.base, options_.max_results)
        : kind == "ResourceTypes" ? scim::ResourceTypesJson(r.base)
                                  : scim::SchemasJson(r.base);
    if (kind == "ServiceProviderConfig") {
      if (!id.empty()) return Error(404, "", "no such endpoint");
      return Ok(200, all);
    }
    if (!id.empty()) {
      for (const auto& item : all) {
        if (item["id"] == id) return Ok(200, item);
      }
      return Error(404, "", absl::StrCat(kind, "/", id, " does not exist"));
    }
    std::vector<Json> items(all.begin(), all.end());
    int64_t n = static_cast<int64_t>(items.size());
    return Ok(200, scim::ListJson(std::move(items), n, 1));
  }
  if (kind == "Users") {
    if (get) return id.empty() ? ListUsers(who, r) : GetUser(who, id, r);
    if (r.method == "POST" && id.empty()) return WriteUser(who, "", r);
    if (r.method == "POST") return Error(405, "", "POST goes to /Users");
    if (id.empty()) return Error(405, "", "this method needs a user id");
    return WriteUser(who, id, r);
  }
  if (kind == "Groups") {
    if (get) return id.empty() ? ListGroups(who, r) : GetGroup(who, id, r);
    if (r.method == "POST" && id.empty()) return WriteGroup(who, "", r);
    if (r.method == "POST") return Error(405, "", "POST goes to /Groups");
    if (id.empty()) return Error(405, "", "this method needs a group id");
    return WriteGroup(who, id, r);
  }
  return Error(404, "", "no such endpoint");
}

absl::StatusOr<Json> ScimHandler::RenderUser(const auth::Principal& who,
                                             const Person& p,
                                             const std::string& base) {
  std::optional<Team> team;
  std::optional<Person> manager;
  if (!p.team_id.empty()) {
    auto t = service_->GetTeam(who, p.team_id);
    if (t.ok()) {
      team = std::move(*t);
    } else if (!absl::IsNotFound(t.status())) {
      return t.status();
    }
  }
  if (!p.manager_id.empty()) {
    auto m = service_->GetPerson(who, p.manager_id);
    if (m.ok()) {
      manager = std::move(*m);
    } else if (!absl::IsNotFound(m.status())) {
      return m.status();
    }
  }
  return scim::UserJson(p, team ? &*team : nullptr,
                        manager ? &*manager : nullptr, base);
}

absl::StatusOr<std::vector<Person>> ScimHandler::Members(
    const auth::Principal& who, const std::string& team_id) {
  std::vector<Person> out;
  PeopleFilter filter;
  filter.team_id = team_id;
  Page page;
  page.limit = kReadPage;
  while (true) {
    auto batch = service_->ListPeople(who, filter, page);
    if (!batch.ok()) return batch.status();
    for (auto& p : *batch) out.push_back(std::move(p));
    if (static_cast<int>(batch->size()) < page.limit) break;
    page.after = out.back().id;
  }
  return out;
}

absl::StatusOr<Json> ScimHandler::RenderGroup(const auth::Principal& who,
                                              const Team& t, bool with_members,
                                              const std::string& base) {
  if (!with_members) return scim::GroupJson(t, nullptr, base);
  auto members = Members(who, t.id);
  if (!members.ok()) return members.status();
  return scim::GroupJson(t, &*members, base);
}

ScimResponse ScimHandler::GetUser(const auth::Principal& who,
                                  const std::string& id, const ScimRequest& r) {
  auto p = service_->GetPerson(who, id);
  if (!p.ok()) return Error(p.status(), false);
  auto j = RenderUser(who, *p, r.base);
  if (!j.ok()) return Error(j.status(), false);
  scim::SelectAttributes(Query(r, "attributes"), Query(r, "excludedAttributes"),
                         &*j);
  ScimResponse resp = Ok(200, *j);
  resp.etag = scim::Version(p->revision);
  return resp;
}

ScimResponse ScimHandler::ListUsers(const auth::Principal& who,
                                    const ScimRequest& r) {
  int64_t start = 1, count = 0;
  if (auto st = Paging(r, options_.max_results, &start, &count); !st.ok()) {
    return Error(st, false);
  }
  std::vector<Person> found;
  int64_t total = 0;
  if (HasQuery(r, "filter")) {
    auto f =
        scim::ParseFilter(Query(r, "filter"), {"userName", "externalId", "id"});
    if (!f.ok()) return Error(f.status(), false);
    absl::StatusOr<Person> p = f->attribute == "userName"
                                   ? service_->LookupByEmail(who, f->value)
                               : f->attribute == "externalId"
                                   ? service_->LookupByExternalId(who, f->value)
                                   : service_->GetPerson(who, f->value);
    // No match is an empty list, so is a value no person could have.
    if (!p.ok() && !IsNotFoundOrInvalid(p.status())) {
      return Error(p.status(), false);
    }
    if (p.ok()) {
      total = 1;
      if (start == 1 && count > 0) found.push_back(std::move(*p));
    }
  } else {
    // Walks the directory in id order to count it (SCIM wants a total).
    Page page;
    page.limit = kReadPage;
    while (true) {
      auto batch = service_->ListPeople(who, PeopleFilter{}, page);
      if (!batch.ok()) return Error(batch.status(), false);
      for (auto& p : *batch) {
        ++total;
        if (total >= start && total < start + count) {
          found.push_back(std::move(p));
        }
      }
      if (static_cast<int>(batch->size()) < page.limit) break;
      page.after = batch->back().id;
    }
  }
  std::vector<Json> resources;
  for (const auto& p : found) {
    auto j = RenderUser(who, p, r.base);
    if (!j.ok()) return Error(j.status(), false);
    scim::SelectAttributes(Query(r, "attributes"),
                           Query(r, "excludedAttributes"), &*j);
    resources.push_back(std::move(*j));
  }
  return Ok(200, scim::ListJson(std::move(resources), total, start));
}

ScimResponse ScimHandler::WriteUser(const auth::Principal& who,
                                    const std::string& id,
                                    const ScimRequest& r) {
  bool create = r.method == "POST";
  scim::UserChange change;
  if (r.method == "DELETE") {
    // Never erased: the person is terminated, history kept.
    change.active = false;
  } else {
    auto body = ParseBody(r.body);
    if (!body.ok()) return Error(body.status(), false);
    auto parsed = r.method == "PATCH" ? scim::ParseUserPatch(*body)
                                      : scim::ParseUser(*body, create);
    if (!parsed.ok()) return Error(parsed.status(), false);
    change = std::move(*parsed);
  }
  if (r.method != "DELETE" && r.method != "PATCH" && r.method != "PUT" &&
      !create) {
    return Error(405, "", "method not allowed");
  }
  auto expected = Expected(r);
  if (!expected.ok()) return Error(expected.status(), false);
  int64_t expected_revision = *expected;
  auto edit = [&](const Snapshot& s) -> absl::StatusOr<SyncInput> {
    PersonEdit e;
    e.create = create;
    e.expected_revision = expected_revision;
    if (!create) {
      auto it = std::find_if(s.people.begin(), s.people.end(),
                             [&](const Person& p) { return p.id == id; });
      if (it == s.people.end()) {
        return absl::NotFoundError(
            absl::StrCat("Users/", id, " does not exist"));
      }
      e.desired = *it;
    }
    if (auto st = scim::ApplyUserChange(s, change, &e.desired); !st.ok()) {
      return st;
    }
    return PlanPersonEdit(s, e);
  };
  storage::Idempotency idem;
  if (create && !r.idempotency_key.empty()) {
    if (auto st =
            storage::ValidateRequestId(r.idempotency_key, "Idempotency-Key");
        !st.ok()) {
      return Error(st, false);
    }
    idem.scope = absl::StrCat("SCIM POST /Users|", who.subject);
    idem.request_id = r.idempotency_key;
    idem.fingerprint = storage::Sha256Hex(r.body);
  }
  auto answer = [](const SyncResult& result) -> std::string {
    return result.plan.create_people.empty()
               ? std::string()
               : result.plan.create_people.front().id;
  };
  auto result =
      service_->Edit(who, edit, idem, answer, storage::NowMicros(), Today());
  if (!result.ok()) return Error(result.status(), false);
  if (r.method == "DELETE") {
    ScimResponse resp;
    resp.status = 204;
    return resp;
  }
  std::string person_id = id;
  if (create) {
    person_id = result->replayed ? result->response
                                 : (result->plan.create_people.empty()
                                        ? std::string()
                                        : result->plan.create_people[0].id);
  }
  ScimResponse resp = GetUser(who, person_id, r);
  if (create && resp.status == 200) {
    resp.status = 201;
    resp.location = absl::StrCat(r.base, "/Users/", person_id);
  }
  return resp;
}

ScimResponse ScimHandler::GetGroup(const auth::Principal& who,
                                   const std::string& id,
                                   const ScimRequest& r) {
  auto t = service_->GetTeam(who, id);
  if (!t.ok()) return Error(t.status(), true);
  std::string excluded = Query(r, "excludedAttributes");
  bool members = !absl::StrContains(absl::AsciiStrToLower(excluded), "members");
  auto j = RenderGroup(who, *t, members, r.base);
  if (!j.ok()) return Error(j.status(), true);
  scim::SelectAttributes(Query(r, "attributes"), excluded, &*j);
  ScimResponse resp = Ok(200, *j);
  resp.etag = scim::Version(t->revision);
  return resp;
}

ScimResponse ScimHandler::ListGroups(const auth::Principal& who,
                                     const ScimRequest& r) {
  int64_t start = 1, count = 0;
  if (auto st = Paging(r, options_.max_results, &start, &count); !st.ok()) {
    return Error(st, true);
  }
  std::optional<scim::Filter> filter;
  if (HasQuery(r, "filter")) {
    auto f = scim::ParseFilter(Query(r, "filter"),
                               {"displayName", "externalId", "id"});
    if (!f.ok()) return Error(f.status(), true);
    filter = std::move(*f);
  }
  std::vector<Team> found;
  int64_t total = 0;
  Page page;
  page.limit = kReadPage;
  while (true) {
    auto batch = service_->ListTeams(who, "", page);
    if (!batch.ok()) return Error(batch.status(), true);
    for (auto& t : *batch) {
      if (filter.has_value()) {
        const std::string& v =
            filter->attribute == "displayName"  ? t.display_name
            : filter->attribute == "externalId" ? t.external_id
                                                : t.id;
        if (v != filter->value) continue;
      }
      ++total;
      if (total >= start && total < start + count) found.push_back(t);
    }
    if (static_cast<int>(batch->size()) < page.limit) break;
    page.after = batch->back().id;
  }
  std::string excluded = Query(r, "excludedAttributes");
  bool members = !absl::StrContains(absl::AsciiStrToLower(excluded), "members");
  std::vector<Json> resources;
  for (const auto& t : found) {
    auto j = RenderGroup(who, t, members, r.base);
    if (!j.ok()) return Error(j.status(), true);
    scim::SelectAttributes(Query(r, "attributes"), excluded, &*j);
    resources.push_back(std::move(*j));
  }
  return Ok(200, scim::ListJson(std::move(resources), total, start));
}

ScimResponse ScimHandler::WriteGroup(const auth::Principal& who,
                                     const std::string& id,
                                     const ScimRequest& r) {
  bool create = r.method == "POST";
  scim::GroupChange change;
  if (r.method == "DELETE") {
    // Teams are never erased: everyone leaves it, the team stays on record.
    change.members = std::vector<std::string>();
  } else if (r.method == "PATCH" || r.method == "PUT" || create) {
    auto body = ParseBody(r.body);
    if (!body.ok()) return Error(body.status(), true);
    auto parsed = r.method == "PATCH" ? scim::ParseGroupPatch(*body)
                                      : scim::ParseGroup(*body, create);
    if (!parsed.ok()) return Error(parsed.status(), true);
    change = std::move(*parsed);
  } else {
    return Error(405, "", "method not allowed");
  }
  auto expected = Expected(r);
  if (!expected.ok()) return Error(expected.status(), true);
  int64_t expected_revision = *expected;
  auto edit = [&](const Snapshot& s) -> absl::StatusOr<SyncInput> {
    TeamEdit e;
    e.create = create;
    e.expected_revision = expected_revision;
    if (!create) {
      auto it = std::find_if(s.teams.begin(), s.teams.end(),
                             [&](const Team& t) { return t.id == id; });
      if (it == s.teams.end()) {
        return absl::NotFoundError(
            absl::StrCat("Groups/", id, " does not exist"));
      }
      e.desired = *it;
    }
    scim::ApplyGroupChange(change, &e.desired);
    e.members = change.members;
    e.add_members = change.add_members;
    e.remove_members = change.remove_members;
    return PlanTeamEdit(s, e);
  };
  auto result = service_->Edit(
      who, edit, storage::Idempotency{},
      [](const SyncResult&) { return std::string(); }, storage::NowMicros(),
      Today());
  if (!result.ok()) return Error(result.status(), true);
  if (r.method == "DELETE") {
    ScimResponse resp;
    resp.status = 204;
    return resp;
  }
  std::string team_id = id;
  if (create) {
    team_id = result->plan.create_teams.empty()
                  ? std::string()
                  : result->plan.create_teams[0].id;
  }
  ScimResponse resp = GetGroup(who, team_id, r);
  if (create && resp.status == 200) {
    resp.status = 201;
    resp.location = absl::StrCat(r.base, "/Groups/", team_id);
  }
  return resp;
}

}  // namespace sightline::people
