#pragma once

// SCIM 2.0 (RFC 7643, RFC 7644) as JSON <-> the directory's domain: Users are
// people, Groups are teams. Parsing turns a request body or a PATCH into the
// changes it asks for; applying them to a person or team happens on the
// directory as the write's transaction reads it (scim_handler.cc). Pure: no
// I/O, unit-tested without a server.
//
// Mapping: id = the person's id; userName = the work email (unique);
// externalId = the HRIS/IdP key a roster sync also uses; active = not
// terminated; title; the enterprise extension's manager (the manager's id)
// and department (a team, by display name or external id). Other standard
// attributes (name, emails, phoneNumbers, locale, password, roles...) are
// accepted and not stored; attributes a request leaves out are left as they
// are (RFC 7644 3.5.1: not asserted); null clears.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "services/people/model.h"
#include "services/people/sync.h"

namespace sightline::people::scim {

using Json = nlohmann::json;

inline constexpr char kUserSchema[] =
    "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr char kGroupSchema[] =
    "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr char kEnterpriseSchema[] =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
inline constexpr char kListSchema[] =
    "urn:ietf:params:scim:api:messages:2.0:ListResponse";
inline constexpr char kPatchSchema[] =
    "urn:ietf:params:scim:api:messages:2.0:PatchOp";
inline constexpr char kErrorSchema[] =
    "urn:ietf:params:scim:api:messages:2.0:Error";

// INVALID_ARGUMENT carrying a SCIM error type (RFC 7644 3.12) as its
// ErrorInfo reason: "invalidSyntax", "invalidValue", "invalidFilter",
// "invalidPath", "noTarget", "mutability".
absl::Status Invalid(absl::string_view scim_type, absl::string_view detail);

// What a request asks of a user. Strings: nullopt = not asserted, "" =
// cleared.
struct UserChange {
  std::optional<std::string> user_name;
  std::optional<std::string> external_id;
  std::optional<std::string> display_name;
  std::optional<std::string> title;
  std::optional<bool> active;
  std::optional<std::string> manager_id;
  std::optional<std::string> department;
  // From `name`, for a display name when the request gives none.
  std::string name_display;
};

struct GroupChange {
  std::optional<std::string> display_name;
  std::optional<std::string> external_id;
  std::optional<std::vector<std::string>> members;  // the whole membership
  std::vector<std::string> add_members;
  std::vector<std::string> remove_members;
};

// A User resource (POST, PUT). `create`: userName is required.
absl::StatusOr<UserChange> ParseUser(const Json& body, bool create);
// A PatchOp on a user.
absl::StatusOr<UserChange> ParseUserPatch(const Json& body);
absl::StatusOr<GroupChange> ParseGroup(const Json& body, bool create);
absl::StatusOr<GroupChange> ParseGroupPatch(const Json& body);

// Applies `change` to `p` on the directory `current` (for department and
// manager). INVALID_ARGUMENT (invalidValue) for a department no team has.
absl::Status ApplyUserChange(const Snapshot& current, const UserChange& change,
                             Person* p);
void ApplyGroupChange(const GroupChange& change, Team* t);

// `attr eq "value"`: the attribute as written and the value.
struct Filter {
  std::string attribute;
  std::string value;
};
// Only `eq` with a string value, on one of `attributes` (compared
// case-insensitively; the result carries the spelling from `attributes`);
// anything else is invalidFilter.
absl::StatusOr<Filter> ParseFilter(absl::string_view text,
                                   const std::vector<std::string>& attributes);

// W/"<revision>"; parses back to the revision (0 when it is not ours).
std::string Version(int64_t revision);
int64_t ParseVersion(absl::string_view etag);

// Resources. `base` is the endpoint's URL up to and including "/scim/v2".
Json UserJson(const Person& p, const Team* team, const Person* manager,
              const std::string& base);
Json GroupJson(const Team& t, const std::vector<Person>* members,
               const std::string& base);
Json ListJson(std::vector<Json> resources, int64_t total, int64_t start_index);
Json ErrorJson(int http_status, absl::string_view scim_type,
               absl::string_view detail);

// Keeps only `attributes` (plus id and schemas) or drops `excluded`: top-level
// names, comma-separated, case-insensitive.
void SelectAttributes(absl::string_view attributes, absl::string_view excluded,
                      Json* resource);

Json ServiceProviderConfigJson(const std::string& base, int max_results);
Json ResourceTypesJson(const std::string& base);
Json SchemasJson(const std::string& base);

// The HTTP status and SCIM error type for a failed write or read; `group`
// names SCIM attributes of a group in sync errors.
struct ErrorAnswer {
  int http_status = 500;
  std::string scim_type;
  std::string detail;
};
ErrorAnswer ErrorFor(const absl::Status& status, bool group);

}  // namespace sightline::people::scim
