#include "services/people/scim_codec.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "lib/status/status.h"

namespace sightline::people::scim {
namespace {

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

// Attribute paths are case-insensitive (RFC 7643 2.1); a path may carry its
// schema's URN. Returns "core:<attr>" or "enterprise:<attr>", lower case.
std::string Qualify(absl::string_view path) {
  std::string p = Lower(path);
  std::string enterprise = Lower(kEnterpriseSchema);
  if (absl::StartsWith(p, enterprise + ":")) {
    return absl::StrCat("enterprise:", p.substr(enterprise.size() + 1));
  }
  std::string core = Lower(kUserSchema);
  if (absl::StartsWith(p, core + ":")) {
    return absl::StrCat("core:", p.substr(core.size() + 1));
  }
  std::string group = Lower(kGroupSchema);
  if (absl::StartsWith(p, group + ":")) {
    return absl::StrCat("core:", p.substr(group.size() + 1));
  }
  return absl::StrCat("core:", p);
}

absl::StatusOr<std::optional<std::string>> StringValue(const Json& v,
                                                       absl::string_view name) {
  if (v.is_null()) return std::optional<std::string>("");
  if (!v.is_string()) {
    return Invalid("invalidValue", absl::StrCat(name, " must be a string"));
  }
  return std::optional<std::string>(v.get<std::string>());
}

absl::StatusOr<bool> BoolValue(const Json& v, absl::string_view name) {
  if (v.is_boolean()) return v.get<bool>();
  // Entra ID sends booleans as "True"/"False" in PATCH values.
  if (v.is_string()) {
    std::string s = Lower(v.get<std::string>());
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Invalid("invalidValue", absl::StrCat(name, " must be a boolean"));
}

// The manager as an id: "id", {"value": "id"} or null/"" (none).
absl::StatusOr<std::string> ManagerValue(const Json& v) {
  if (v.is_null()) return std::string();
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    for (const auto& [k, sub] : v.items()) {
      std::string key = Lower(k);
      if (key == "value") {
        if (sub.is_null()) return std::string();
        if (!sub.is_string()) break;
        return sub.get<std::string>();
      }
      if (key != "$ref" && key != "displayname") {
        return Invalid("invalidSyntax",
                       absl::StrCat("manager has no attribute '", k, "'"));
      }
    }
    if (!v.contains("value")) return std::string();
  }
  return Invalid("invalidValue",
                 "manager must be a user id or {\"value\": user id}");
}

// Standard attributes accepted and not stored.
bool Ignored(absl::string_view q) {
  static const char* const kCore[] = {
      "nickname",     "profileurl",   "usertype", "preferredlanguage",
      "locale",       "timezone",     "password", "emails",
      "phonenumbers", "ims",          "photos",   "addresses",
      "groups",       "entitlements", "roles",    "x509certificates"};
  static const char* const kEnterprise[] = {"employeenumber", "costcenter",
                                            "organization", "division"};
  if (absl::ConsumePrefix(&q, "core:")) {
    // A sub-attribute or value filter of an ignored one: "emails[type eq
    // \"work\"].value", "addresses.locality".
    size_t end = q.find_first_of(".[");
    absl::string_view head = q.substr(0, end);
    for (const char* a : kCore) {
      if (head == a) return true;
    }
    return false;
  }
  if (absl::ConsumePrefix(&q, "enterprise:")) {
    size_t end = q.find_first_of(".[");
    absl::string_view head = q.substr(0, end);
    for (const char* a : kEnterprise) {
      if (head == a) return true;
    }
  }
  return false;
}

std::string NameDisplay(const Json& name) {
  if (!name.is_object()) return "";
  std::string formatted, given, family;
  for (const auto& [k, v] : name.items()) {
    if (!v.is_string()) continue;
    std::string key = Lower(k);
    if (key == "formatted") formatted = v.get<std::string>();
    if (key == "givenname") given = v.get<std::string>();
    if (key == "familyname") family = v.get<std::string>();
  }
  if (!formatted.empty()) return formatted;
  return std::string(
      absl::StripAsciiWhitespace(absl::StrCat(given, " ", family)));
}

// Sets (or with `remove`, clears) one user attribute, `q` as Qualify gives.
absl::Status SetUser(const std::string& q, const Json& value, bool remove,
                     UserChange* c) {
  const Json null_value;
  const Json& v = remove ? null_value : value;
  auto set = [&](std::optional<std::string>* field,
                 absl::string_view name) -> absl::Status {
    auto s = StringValue(v, name);
    if (!s.ok()) return s.status();
    *field = std::move(*s);
    return absl::OkStatus();
  };
  if (q == "core:username") {
    if (remove || v.is_null()) {
      return Invalid("mutability", "userName is required");
    }
    return set(&c->user_name, "userName");
  }
  if (q == "core:externalid") return set(&c->external_id, "externalId");
  if (q == "core:displayname") return set(&c->display_name, "displayName");
  if (q == "core:title") return set(&c->title, "title");
  if (q == "core:active") {
    if (remove || v.is_null()) {
      return Invalid("mutability", "active cannot be removed");
    }
    auto b = BoolValue(v, "active");
    if (!b.ok()) return b.status();
    c->active = *b;
    return absl::OkStatus();
  }
  if (q == "core:name" || absl::StartsWith(q, "core:name.")) {
    if (q == "core:name") {
      if (!v.is_null() && !v.is_object()) {
        return Invalid("invalidValue", "name must be an object");
      }
      c->name_display = NameDisplay(v);
    } else if (!v.is_null() && !v.is_string()) {
      return Invalid("invalidValue",
                     absl::StrCat(q.substr(5), " must be a string"));
    }
    return absl::OkStatus();
  }
  if (q == "enterprise:department") return set(&c->department, "department");
  if (q == "enterprise:manager" || q == "enterprise:manager.value") {
    auto m = ManagerValue(v);
    if (!m.ok()) return m.status();
    c->manager_id = std::move(*m);
    return absl::OkStatus();
  }
  if (q == "core:id" || q == "core:meta" || q == "core:schemas") {
    return absl::OkStatus();  // read-only, ignored (RFC 7644 3.5.1)
  }
  if (Ignored(q)) return absl::OkStatus();
  return absl::NotFoundError(q);  // the caller names the SCIM error
}

absl::StatusOr<std::string> OpName(const Json& op) {
  if (!op.is_object()) {
    return Invalid("invalidSyntax", "each operation must be an object");
  }
  for (const auto& [k, v] : op.items()) {
    std::string key = Lower(k);
    if (key != "op" && key != "path" && key != "value") {
      return Invalid("invalidSyntax",
                     absl::StrCat("an operation has no member '", k, "'"));
    }
    if (key == "op") {
      if (!v.is_string())
        return Invalid("invalidSyntax", "op must be a string");
      std::string name = Lower(v.get<std::string>());
      if (name != "add" && name != "replace" && name != "remove") {
        return Invalid("invalidSyntax", "op must be add, replace or remove");
      }
      return name;
    }
  }
  return Invalid("invalidSyntax", "an operation has no op");
}

const Json* Member(const Json& obj, absl::string_view name) {
  for (const auto& [k, v] : obj.items()) {
    if (absl::EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

absl::StatusOr<const Json*> Operations(const Json& body) {
  if (!body.is_object()) {
    return Invalid("invalidSyntax", "the body must be a JSON object");
  }
  const Json* ops = Member(body, "Operations");
  if (ops == nullptr || !ops->is_array()) {
    return Invalid("invalidSyntax", "Operations must be an array");
  }
  if (ops->empty()) return Invalid("invalidSyntax", "Operations is empty");
  return ops;
}

absl::Status CheckSchemas(const Json& body) {
  const Json* s = Member(body, "schemas");
  if (s == nullptr) return absl::OkStatus();
  if (!s->is_array()) {
    return Invalid("invalidSyntax", "schemas must be an array of URIs");
  }
  for (const auto& uri : *s) {
    if (!uri.is_string()) {
      return Invalid("invalidSyntax", "schemas must be an array of URIs");
    }
  }
  return absl::OkStatus();
}

// Sets the attributes of a User object (a body, or a PATCH value without a
// path).
absl::Status SetUserObject(const Json& obj, UserChange* c) {
  if (!obj.is_object()) {
    return Invalid("invalidSyntax", "a user must be a JSON object");
  }
  if (auto st = CheckSchemas(obj); !st.ok()) return st;
  for (const auto& [k, v] : obj.items()) {
    std::string q = Qualify(k);
    if (q == Qualify(kEnterpriseSchema) ||
        q == "core:" + Lower(kEnterpriseSchema)) {
      if (!v.is_object()) {
        return Invalid("invalidSyntax",
                       "the enterprise extension must be an object");
      }
      for (const auto& [ek, ev] : v.items()) {
        auto st = SetUser(absl::StrCat("enterprise:", Lower(ek)), ev, false, c);
        if (absl::IsNotFound(st)) {
          return Invalid("invalidSyntax",
                         absl::StrCat("unknown attribute '", ek, "'"));
        }
        if (!st.ok()) return st;
      }
      continue;
    }
    auto st = SetUser(q, v, false, c);
    if (absl::IsNotFound(st)) {
      return Invalid("invalidSyntax",
                     absl::StrCat("unknown attribute '", k, "'"));
    }
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemberIds(const Json& v) {
  if (!v.is_array()) {
    return Invalid("invalidValue", "members must be an array");
  }
  std::vector<std::string> ids;
  for (const auto& m : v) {
    if (m.is_object()) {
      for (const auto& [k, unused] : m.items()) {
        std::string key = Lower(k);
        if (key != "value" && key != "display" && key != "$ref" &&
            key != "type") {
          return Invalid("invalidSyntax",
                         absl::StrCat("a member has no attribute '", k, "'"));
        }
      }
    }
    const Json* value = m.is_object() ? Member(m, "value") : nullptr;
    if (value == nullptr || !value->is_string()) {
      return Invalid("invalidValue",
                     "each member must be {\"value\": user id}");
    }
    ids.push_back(value->get<std::string>());
  }
  return ids;
}

absl::Status SetGroup(const std::string& q, const Json& v, GroupChange* c) {
  if (q == "core:displayname") {
    if (!v.is_string()) {
      return Invalid("invalidValue", "displayName must be a string");
    }
    c->display_name = v.get<std::string>();
    return absl::OkStatus();
  }
  if (q == "core:externalid") {
    auto s = StringValue(v, "externalId");
    if (!s.ok()) return s.status();
    c->external_id = std::move(*s);
    return absl::OkStatus();
  }
  if (q == "core:members") {
    auto ids = MemberIds(v);
    if (!ids.ok()) return ids.status();
    c->members = std::move(*ids);
    return absl::OkStatus();
  }
  if (q == "core:id" || q == "core:meta" || q == "core:schemas") {
    return absl::OkStatus();
  }
  return absl::NotFoundError(q);
}

absl::Status SetGroupObject(const Json& obj, GroupChange* c) {
  if (!obj.is_object()) {
    return Invalid("invalidSyntax", "a group must be a JSON object");
  }
  if (auto st = CheckSchemas(obj); !st.ok()) return st;
  for (const auto& [k, v] : obj.items()) {
    auto st = SetGroup(Qualify(k), v, c);
    if (absl::IsNotFound(st)) {
      return Invalid("invalidSyntax",
                     absl::StrCat("unknown attribute '", k, "'"));
    }
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

std::string Rfc3339(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

}  // namespace

absl::Status Invalid(absl::string_view scim_type, absl::string_view detail) {
  return status::WithErrorInfo(absl::InvalidArgumentError(detail), scim_type);
}

absl::StatusOr<UserChange> ParseUser(const Json& body, bool create) {
  UserChange c;
  if (auto st = SetUserObject(body, &c); !st.ok()) return st;
  if (create && (!c.user_name.has_value() || c.user_name->empty())) {
    return Invalid("invalidValue", "userName is required");
  }
  return c;
}

absl::StatusOr<UserChange> ParseUserPatch(const Json& body) {
  auto ops = Operations(body);
  if (!ops.ok()) return ops.status();
  UserChange c;
  for (const auto& op : **ops) {
    auto name = OpName(op);
    if (!name.ok()) return name.status();
    const Json* path = Member(op, "path");
    const Json* value = Member(op, "value");
    bool remove = *name == "remove";
    if (path == nullptr) {
      if (remove) return Invalid("noTarget", "remove needs a path");
      if (value == nullptr)
        return Invalid("invalidSyntax", "add and replace need a value");
      // Entra ID sends extension attributes as full paths inside the value.
      if (auto st = SetUserObject(*value, &c); !st.ok()) return st;
      continue;
    }
    if (!path->is_string() || path->get<std::string>().empty()) {
      return Invalid("invalidPath", "path must be a non-empty string");
    }
    if (!remove && value == nullptr) {
      return Invalid("invalidSyntax", "add and replace need a value");
    }
    std::string q = Qualify(path->get<std::string>());
    auto st = SetUser(q, remove ? Json() : *value, remove, &c);
    if (absl::IsNotFound(st)) {
      return Invalid("invalidPath",
                     absl::StrCat("unknown attribute path '",
                                  path->get<std::string>(), "'"));
    }
    if (!st.ok()) return st;
  }
  return c;
}

absl::StatusOr<GroupChange> ParseGroup(const Json& body, bool create) {
  GroupChange c;
  if (auto st = SetGroupObject(body, &c); !st.ok()) return st;
  if (create && (!c.display_name.has_value() || c.display_name->empty())) {
    return Invalid("invalidValue", "displayName is required");
  }
  return c;
}

absl::StatusOr<GroupChange> ParseGroupPatch(const Json& body) {
  auto ops = Operations(body);
  if (!ops.ok()) return ops.status();
  GroupChange c;
  for (const auto& op : **ops) {
    auto name = OpName(op);
    if (!name.ok()) return name.status();
    const Json* path = Member(op, "path");
    const Json* value = Member(op, "value");
    if (path == nullptr) {
      if (*name == "remove") return Invalid("noTarget", "remove needs a path");
      if (value == nullptr)
        return Invalid("invalidSyntax", "add and replace need a value");
      if (*name == "add" && value->is_object()) {
        // add without a path merges: members join.
        GroupChange part;
        if (auto st = SetGroupObject(*value, &part); !st.ok()) return st;
        if (part.display_name) c.display_name = part.display_name;
        if (part.external_id) c.external_id = part.external_id;
        if (part.members) {
          c.add_members.insert(c.add_members.end(), part.members->begin(),
                               part.members->end());
        }
        continue;
      }
      if (auto st = SetGroupObject(*value, &c); !st.ok()) return st;
      continue;
    }
    if (!path->is_string()) {
      return Invalid("invalidPath", "path must be a string");
    }
    std::string raw = path->get<std::string>();
    std::string q = Qualify(raw);
    if (q == "core:members") {
      if (*name == "remove") {
        if (value == nullptr) {
          c.members = std::vector<std::string>();  // all leave
          c.add_members.clear();
          c.remove_members.clear();
          continue;
        }
        auto ids = MemberIds(*value);
        if (!ids.ok()) return ids.status();
        c.remove_members.insert(c.remove_members.end(), ids->begin(),
                                ids->end());
        continue;
      }
      if (value == nullptr)
        return Invalid("invalidSyntax", "add and replace need a value");
      auto ids = MemberIds(*value);
      if (!ids.ok()) return ids.status();
      if (*name == "add") {
        c.add_members.insert(c.add_members.end(), ids->begin(), ids->end());
      } else {
        c.members = std::move(*ids);
        c.add_members.clear();
        c.remove_members.clear();
      }
      continue;
    }
    // members[value eq "id"]
    if (absl::StartsWith(q, "core:members[")) {
      if (*name != "remove") {
        return Invalid("invalidPath",
                       "a member filter is supported for remove only");
      }
      absl::string_view inner(raw);
      size_t open = inner.find('['), close = inner.rfind(']');
      if (close == absl::string_view::npos || close != inner.size() - 1) {
        return Invalid("invalidPath", absl::StrCat("bad path '", raw, "'"));
      }
      auto f = ParseFilter(inner.substr(open + 1, close - open - 1), {"value"});
      if (!f.ok()) return Invalid("invalidPath", f.status().message());
      c.remove_members.push_back(f->value);
      continue;
    }
    if (*name == "remove") {
      if (q == "core:externalid") {
        c.external_id = "";
        continue;
      }
      return Invalid("mutability",
                     absl::StrCat("'", raw, "' cannot be removed"));
    }
    if (value == nullptr)
      return Invalid("invalidSyntax", "add and replace need a value");
    auto st = SetGroup(q, *value, &c);
    if (absl::IsNotFound(st)) {
      return Invalid("invalidPath",
                     absl::StrCat("unknown attribute path '", raw, "'"));
    }
    if (!st.ok()) return st;
  }
  return c;
}

absl::Status ApplyUserChange(const Snapshot& current, const UserChange& c,
                             Person* p) {
  if (c.user_name) p->email = *c.user_name;
  if (c.external_id && !c.external_id->empty()) p->external_id = *c.external_id;
  if (c.display_name) {
    p->display_name = *c.display_name;
  }
  if (p->display_name.empty()) {
    p->display_name = !c.name_display.empty() ? c.name_display : p->email;
  }
  if (c.title) p->title = *c.title;
  if (c.active) {
    if (!*c.active) {
      p->status = PersonStatus::kTerminated;
    } else if (p->status == PersonStatus::kTerminated) {
      p->status = PersonStatus::kActive;
    }
  }
  if (c.manager_id) p->manager_id = *c.manager_id;
  if (c.department) {
    if (c.department->empty()) {
      p->team_id.clear();
    } else {
      const Team* found = nullptr;
      for (const auto& t : current.teams) {
        if (t.display_name == *c.department) {
          if (found != nullptr) {
            return Invalid("invalidValue",
                           absl::StrCat("more than one team is called '",
                                        *c.department, "'"));
          }
          found = &t;
        }
      }
      if (found == nullptr) {
        for (const auto& t : current.teams) {
          if (t.external_id == *c.department) found = &t;
        }
      }
      if (found == nullptr) {
        return Invalid("invalidValue",
                       absl::StrCat("no team is called '", *c.department, "'"));
      }
      p->team_id = found->id;
    }
  }
  return absl::OkStatus();
}

void ApplyGroupChange(const GroupChange& c, Team* t) {
  if (c.display_name) t->display_name = *c.display_name;
  if (c.external_id && !c.external_id->empty()) t->external_id = *c.external_id;
}

absl::StatusOr<Filter> ParseFilter(absl::string_view text,
                                   const std::vector<std::string>& attributes) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  size_t sp = rest.find(' ');
  auto bad = [&](absl::string_view why) {
    return Invalid("invalidFilter",
                   absl::StrCat("unsupported filter '", text, "': ", why));
  };
  if (sp == absl::string_view::npos)
    return bad("expected 'attribute eq \"value\"'");
  absl::string_view attr = rest.substr(0, sp);
  rest = absl::StripLeadingAsciiWhitespace(rest.substr(sp));
  sp = rest.find(' ');
  if (sp == absl::string_view::npos)
    return bad("expected 'attribute eq \"value\"'");
  absl::string_view op = rest.substr(0, sp);
  rest = absl::StripAsciiWhitespace(rest.substr(sp));
  if (!absl::EqualsIgnoreCase(op, "eq")) {
    return bad("only the eq operator is supported");
  }
  Filter f;
  for (const auto& a : attributes) {
    if (absl::EqualsIgnoreCase(a, attr)) f.attribute = a;
  }
  if (f.attribute.empty()) {
    return bad(absl::StrCat("filtering is supported on ",
                            absl::StrJoin(attributes, ", "), " only"));
  }
  Json v = Json::parse(rest.begin(), rest.end(), nullptr, false);
  if (v.is_discarded() || !v.is_string()) {
    return bad("the value must be a quoted string");
  }
  f.value = v.get<std::string>();
  return f;
}

std::string Version(int64_t revision) {
  return absl::StrCat("W/\"", revision, "\"");
}

int64_t ParseVersion(absl::string_view etag) {
  etag = absl::StripAsciiWhitespace(etag);
  absl::ConsumePrefix(&etag, "W/");
  if (!absl::ConsumePrefix(&etag, "\"") || !absl::ConsumeSuffix(&etag, "\"")) {
    return 0;
  }
  int64_t r = 0;
  if (!absl::SimpleAtoi(etag, &r) || r <= 0) return 0;
  return r;
}

Json UserJson(const Person& p, const Team* team, const Person* manager,
              const std::string& base) {
  std::string location = absl::StrCat(base, "/Users/", p.id);
  Json j = {{"schemas", {kUserSchema, kEnterpriseSchema}},
            {"id", p.id},
            {"externalId", p.external_id},
            {"userName", p.email},
            {"displayName", p.display_name},
            {"name", {{"formatted", p.display_name}}},
            {"active", p.status != PersonStatus::kTerminated},
            {"emails",
             Json::array(
                 {{{"value", p.email}, {"type", "work"}, {"primary", true}}})},
            {"meta",
             {{"resourceType", "User"},
              {"created", Rfc3339(p.create_time)},
              {"lastModified", Rfc3339(p.update_time)},
              {"location", location},
              {"version", Version(p.revision)}}}};
  if (!p.title.empty()) j["title"] = p.title;
  Json ext = Json::object();
  if (team != nullptr) {
    ext["department"] = team->display_name;
    j["groups"] =
        Json::array({{{"value", team->id},
                      {"display", team->display_name},
                      {"$ref", absl::StrCat(base, "/Groups/", team->id)},
                      {"type", "direct"}}});
  } else {
    j["groups"] = Json::array();
  }
  if (manager != nullptr) {
    ext["manager"] = {{"value", manager->id},
                      {"$ref", absl::StrCat(base, "/Users/", manager->id)},
                      {"displayName", manager->display_name}};
  }
  j[kEnterpriseSchema] = std::move(ext);
  return j;
}

Json GroupJson(const Team& t, const std::vector<Person>* members,
               const std::string& base) {
  Json j = {{"schemas", {kGroupSchema}},
            {"id", t.id},
            {"externalId", t.external_id},
            {"displayName", t.display_name},
            {"meta",
             {{"resourceType", "Group"},
              {"created", Rfc3339(t.create_time)},
              {"lastModified", Rfc3339(t.update_time)},
              {"location", absl::StrCat(base, "/Groups/", t.id)},
              {"version", Version(t.revision)}}}};
  if (members != nullptr) {
    Json m = Json::array();
    for (const auto& p : *members) {
      m.push_back({{"value", p.id},
                   {"display", p.display_name},
                   {"$ref", absl::StrCat(base, "/Users/", p.id)},
                   {"type", "User"}});
    }
    j["members"] = std::move(m);
  }
  return j;
}

Json ListJson(std::vector<Json> resources, int64_t total, int64_t start_index) {
  Json j = {{"schemas", {kListSchema}},
            {"totalResults", total},
            {"startIndex", start_index},
            {"itemsPerPage", static_cast<int64_t>(resources.size())}};
  j["Resources"] = Json(std::move(resources));
  return j;
}

Json ErrorJson(int http_status, absl::string_view scim_type,
               absl::string_view detail) {
  Json j = {{"schemas", {kErrorSchema}},
            {"status", absl::StrCat(http_status)},
            {"detail", std::string(detail)}};
  if (!scim_type.empty()) j["scimType"] = std::string(scim_type);
  return j;
}

void SelectAttributes(absl::string_view attributes, absl::string_view excluded,
                      Json* resource) {
  auto names = [](absl::string_view list) {
    std::vector<std::string> out;
    for (absl::string_view n :
         absl::StrSplit(list, ',', absl::SkipWhitespace())) {
      out.push_back(Qualify(absl::StripAsciiWhitespace(n)));
    }
    return out;
  };
  auto listed = [](const std::vector<std::string>& list,
                   const std::string& key) {
    std::string q = Qualify(key);
    for (const auto& n : list) {
      if (n == q || absl::StartsWith(n, q + ".")) return true;
    }
    return false;
  };
  if (!attributes.empty()) {
    auto keep = names(attributes);
    Json out = Json::object();
    for (const auto& [k, v] : resource->items()) {
      if (k == "id" || k == "schemas" || k == "meta" || listed(keep, k)) {
        out[k] = v;
      }
    }
    *resource = std::move(out);
    return;
  }
  if (!excluded.empty()) {
    auto drop = names(excluded);
    for (auto it = resource->begin(); it != resource->end();) {
      if (it.key() != "id" && it.key() != "schemas" &&
          std::find(drop.begin(), drop.end(), Qualify(it.key())) !=
              drop.end()) {
        it = resource->erase(it);
      } else {
        ++it;
      }
    }
  }
}

Json ServiceProviderConfigJson(const std::string& base, int max_results) {
  return {
      {"schemas",
       {"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
      {"documentationUri", ""},
      {"patch", {{"supported", true}}},
      {"bulk",
       {{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
      {"filter", {{"supported", true}, {"maxResults", max_results}}},
      {"changePassword", {{"supported", false}}},
      {"sort", {{"supported", false}}},
      {"etag", {{"supported", true}}},
      {"authenticationSchemes",
       Json::array(
           {{{"type", "oauthbearertoken"},
             {"name", "OAuth Bearer Token"},
             {"description",
              "A JWT with the hr_admin or service role, as the gRPC API takes"},
             {"primary", true}}})},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"},
        {"location", absl::StrCat(base, "/ServiceProviderConfig")}}}};
}

Json ResourceTypesJson(const std::string& base) {
  Json user = {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
      {"id", "User"},
      {"name", "User"},
      {"endpoint", "/Users"},
      {"description", "A person of the directory"},
      {"schema", kUserSchema},
      {"schemaExtensions",
       Json::array({{{"schema", kEnterpriseSchema}, {"required", false}}})},
      {"meta",
       {{"resourceType", "ResourceType"},
        {"location", absl::StrCat(base, "/ResourceTypes/User")}}}};
  Json group = {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
      {"id", "Group"},
      {"name", "Group"},
      {"endpoint", "/Groups"},
      {"description",
       "A team of the directory; a person is in one team at most"},
      {"schema", kGroupSchema},
      {"meta",
       {{"resourceType", "ResourceType"},
        {"location", absl::StrCat(base, "/ResourceTypes/Group")}}}};
  return Json::array({user, group});
}

namespace {

Json Attr(absl::string_view name, absl::string_view type, bool required,
          absl::string_view mutability, absl::string_view uniqueness,
          absl::string_view description) {
  return {{"name", std::string(name)},
          {"type", std::string(type)},
          {"multiValued", false},
          {"description", std::string(description)},
          {"required", required},
          {"caseExact", false},
          {"mutability", std::string(mutability)},
          {"returned", "default"},
          {"uniqueness", std::string(uniqueness)}};
}

Json Schema(absl::string_view id, absl::string_view name,
            absl::string_view description, Json attributes,
            const std::string& base) {
  return {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
          {"id", std::string(id)},
          {"name", std::string(name)},
          {"description", std::string(description)},
          {"attributes", std::move(attributes)},
          {"meta",
           {{"resourceType", "Schema"},
            {"location", absl::StrCat(base, "/Schemas/", id)}}}};
}

}  // namespace

Json SchemasJson(const std::string& base) {
  Json members = Attr("members", "complex", false, "readWrite", "none",
                      "The people in the team");
  members["multiValued"] = true;
  members["subAttributes"] = Json::array(
      {Attr("value", "string", true, "immutable", "none", "A user's id")});
  Json manager = Attr("manager", "complex", false, "readWrite", "none",
                      "The person this one reports to");
  manager["subAttributes"] = Json::array({Attr(
      "value", "string", false, "readWrite", "none", "The manager's id")});
  return Json::array(
      {Schema(kUserSchema, "User", "A person of the directory",
              Json::array({Attr("userName", "string", true, "readWrite",
                                "server", "The work email address"),
                           Attr("displayName", "string", false, "readWrite",
                                "none", "The name shown for the person"),
                           Attr("title", "string", false, "readWrite", "none",
                                "Job title"),
                           Attr("active", "boolean", false, "readWrite", "none",
                                "false: the person has left (terminated)")}),
              base),
       Schema(kEnterpriseSchema, "EnterpriseUser", "Reporting line and team",
              Json::array({Attr("department", "string", false, "readWrite",
                                "none", "The person's team, by name"),
                           manager}),
              base),
       Schema(kGroupSchema, "Group", "A team of the directory",
              Json::array({Attr("displayName", "string", true, "readWrite",
                                "none", "The team's name"),
                           members}),
              base)});
}

ErrorAnswer ErrorFor(const absl::Status& st, bool group) {
  ErrorAnswer a;
  std::string reason = status::ErrorReason(st);
  std::string detail(st.message());
  // Sync errors name records ("records[0].email"): say it in SCIM's terms.
  auto violations = status::FieldViolations(st);
  if (!violations.empty()) {
    std::vector<std::string> parts;
    for (const auto& v : violations) {
      absl::string_view field = v.field;
      std::string attr(field);
      if (absl::ConsumePrefix(&field, "records[")) {
        size_t close = field.find("].");
        bool first = field.substr(0, close) == "0";
        absl::string_view name =
            close == absl::string_view::npos ? field : field.substr(close + 2);
        if (group && !first) {
          attr = "members";
        } else if (name == "email") {
          attr = "userName";
        } else if (name == "display_name") {
          attr = "displayName";
        } else if (name == "external_id") {
          attr = "externalId";
        } else if (name == "manager_external_id") {
          attr = "manager";
        } else if (name == "team_external_id") {
          attr = "department";
        } else if (name == "parent_external_id") {
          attr = "parent";
        } else {
          attr = std::string(name);
        }
      } else if (field == "manager_id") {
        attr = "manager";
      } else if (field == "team_id") {
        attr = "department";
      } else if (field == "external_id") {
        attr = "externalId";
      }
      parts.push_back(absl::StrCat(attr, ": ", v.description));
    }
    detail = absl::StrJoin(parts, "; ");
  }
  a.detail = detail;
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
      a.http_status = 400;
      if (reason == "MUTABILITY") {
        a.scim_type = "mutability";
      } else if (!reason.empty() && absl::ascii_islower(reason[0])) {
        a.scim_type = reason;
      } else {
        a.scim_type = "invalidValue";
      }
      break;
    case absl::StatusCode::kFailedPrecondition:
      a.http_status = 400;
      a.scim_type = "invalidValue";
      break;
    case absl::StatusCode::kNotFound:
      a.http_status = 404;
      break;
    case absl::StatusCode::kAlreadyExists:
      a.http_status = 409;
      a.scim_type = "uniqueness";
      break;
    case absl::StatusCode::kAborted:
      a.http_status = 412;
      break;
    case absl::StatusCode::kUnauthenticated:
      a.http_status = 401;
      break;
    case absl::StatusCode::kPermissionDenied:
      a.http_status = 403;
      break;
    case absl::StatusCode::kResourceExhausted:
      a.http_status = 429;
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      a.http_status = 503;
      break;
    default:
      a.http_status = 500;
      a.detail = "internal error";
      break;
  }
  return a;
}

}  // namespace sightline::people::scim
