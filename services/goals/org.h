#pragma once

// What the goals service needs to know of the org: lib/org's OrgService. Reads
// and access decisions use the in-memory replica of the people directory, so
// they keep working while the people service is down; writes validate people
// and teams with the people service itself and fail with UNAVAILABLE when it
// cannot answer (unvalidated data is never accepted). An unknown subject is a
// caller with no person, who reads PUBLIC goals only.

#include "lib/org/org.h"
#include "services/goals/access.h"

namespace sightline::goals {

using org::OrgService;

}  // namespace sightline::goals
