#pragma once

// The SCIM 2.0 front door of the directory (RFC 7644): requests as plain
// values in, answers out, so that it is tested without a server; the HTTP
// server (scim_server.h) only moves bytes. Every write is planned and applied
// by PeopleService::Edit, the path SyncPeople takes: the same validation,
// reporting-line checks, change log, cache invalidation.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/auth/jwt.h"
#include "services/people/people_service.h"
#include "services/people/scim_codec.h"

namespace sightline::people {

struct ScimRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // after the base: "/Users/abc"
  std::multimap<std::string, std::string> query;
  std::string authorization;    // the Authorization header
  std::string if_match;         // the If-Match header
  std::string idempotency_key;  // the Idempotency-Key header (POST)
  std::string body;
  // The endpoint's URL up to and including "/scim/v2", for locations.
  std::string base;
};

struct ScimResponse {
  int status = 200;
  std::string body;  // JSON; empty for 204
  std::string etag;
  std::string location;
  std::string principal;  // for the log line; empty when unauthenticated
};

struct ScimOptions {
  int max_results = 200;  // the largest list page
};

class ScimHandler {
 public:
  ScimHandler(PeopleService* service, const auth::TokenVerifier* verifier,
              ScimOptions options = {});

  // Thread-safe: the server calls it from several threads.
  ScimResponse Handle(const ScimRequest& request);

 private:
  using Json = scim::Json;

  ScimResponse Route(const auth::Principal& who, const ScimRequest& r);
  ScimResponse GetUser(const auth::Principal& who, const std::string& id,
                       const ScimRequest& r);
  ScimResponse ListUsers(const auth::Principal& who, const ScimRequest& r);
  ScimResponse WriteUser(const auth::Principal& who, const std::string& id,
                         const ScimRequest& r);
  ScimResponse GetGroup(const auth::Principal& who, const std::string& id,
                        const ScimRequest& r);
  ScimResponse ListGroups(const auth::Principal& who, const ScimRequest& r);
  ScimResponse WriteGroup(const auth::Principal& who, const std::string& id,
                          const ScimRequest& r);

  absl::StatusOr<Json> RenderUser(const auth::Principal& who, const Person& p,
                                  const std::string& base);
  absl::StatusOr<Json> RenderGroup(const auth::Principal& who, const Team& t,
                                   bool with_members, const std::string& base);
  absl::StatusOr<std::vector<Person>> Members(const auth::Principal& who,
                                              const std::string& team_id);

  PeopleService* service_;
  const auth::TokenVerifier* verifier_;
  ScimOptions options_;
};

}  // namespace sightline::people
