// Resource names as every handler reads them: the shapes of lib/server/api.h
// and the services' own parsers. The input is one name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/server/api.h"
#include "services/goals/convert.h"
#include "services/people/convert.h"
#include "tools/cli/datapoints_csv.h"

namespace {

using sightline::server::Shape;

constexpr Shape kShapes[] = {
    sightline::server::kPersonShape,
    sightline::server::kTeamShape,
    sightline::server::kGoalShape,
    {"goals", "keyResults", "goals/{goal}/keyResults/{key_result}"},
    {"kpis", "", "kpis/{kpi}"},
};

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string name(reinterpret_cast<const char*>(data), size);
  for (const Shape& shape : kShapes) {
    sightline::status::FieldErrors errors;
    std::vector<std::string> ids;
    bool ok = sightline::server::ParseInto(name, shape, "name", &ids, &errors);
    // Accepted names have exactly the shape, with valid ids.
    Check(ok == errors.empty());
    if (ok) {
      Check(ids.size() == (shape.second.empty() ? 1u : 2u));
      std::string again = shape.second.empty()
                              ? absl::StrCat(shape.first, "/", ids[0])
                              : absl::StrCat(shape.first, "/", ids[0], "/",
                                             shape.second, "/", ids[1]);
      Check(again == name);
      for (const auto& id : ids) Check(sightline::server::IsId(id));
    }
    auto one = sightline::server::ParseOne(name, shape, "name");
    if (shape.second.empty()) Check(one.ok() == ok);
    std::string opt =
        sightline::server::OptionalIdOf(name, shape, "name", &errors);
    (void)opt;
  }
  (void)sightline::people::ParsePersonName(name, "name");
  (void)sightline::people::ParseTeamName(name, "name");
  (void)sightline::people::OptionalPersonName(name, "name");
  (void)sightline::goals::ParseCycleName(name, "name");
  (void)sightline::goals::ParseGoalName(name, "name");
  (void)sightline::goals::ParsePersonName(name, "name");
  (void)sightline::goals::ParseTeamName(name, "name");
  auto kr = sightline::goals::ParseKeyResultName(name, "name");
  if (kr.ok()) {
    Check(name == absl::StrCat("goals/", kr->goal_id, "/keyResults/",
                               kr->key_result_id));
  }
  auto owner = sightline::goals::ParseOwner(name, "owner");
  if (owner.ok()) Check(sightline::goals::OwnerName(*owner) == name);
  auto kpi = sightline::cli::ParseKpiName(name);
  if (kpi.ok()) Check(kpi->rfind("kpis/", 0) == 0);
  return 0;
}
