// A SyncPeople stream (options, then person and team records), read as the
// handler reads it and planned as the service plans it: first against an
// empty directory, then again against the directory that plan makes, where
// the same roster must create nothing more.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fuzz/check.h"
#include "fuzz/inputs.pb.h"
#include "lib/storage/idempotency.h"
#include "services/people/convert.h"
#include "services/people/sync.h"

namespace {

using namespace sightline::people;
using sightline::fuzz::Check;
using sightline::fuzz::CheckClientError;

constexpr int64_t kNowMicros = 1796000000LL * 1000000;

absl::StatusOr<SyncPlan> Plan(const Snapshot& current, const SyncInput& input,
                              int* next_id) {
  auto new_id = [next_id] { return absl::StrCat("p", (*next_id)++); };
  return PlanSync(current, input, SyncPolicy{}, new_id, kNowMicros,
                  "2026-11-29");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sightline::fuzz::PeopleInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (in.requests_size() == 0 || !in.requests(0).has_options()) return 0;
  const v1::SyncOptions& options = in.requests(0).options();
  SyncInput input;
  for (int i = 1; i < in.requests_size(); ++i) {
    auto* r = in.mutable_requests(i);
    if (r->has_person()) {
      input.people.push_back(RecordOf(i - 1, r->mutable_person()));
    } else if (r->has_team()) {
      input.teams.push_back(RecordOf(i - 1, r->mutable_team()));
    } else {
      return 0;  // refused by the handler before any planning
    }
  }
  if (options.mode() == v1::SyncOptions::FULL) {
    input.mode = SyncMode::kFull;
  } else if (options.mode() == v1::SyncOptions::INCREMENTAL) {
    input.mode = SyncMode::kIncremental;
  } else {
    return 0;
  }
  auto id = sightline::storage::ValidateRequestId(options.request_id(),
                                                  "options.request_id");
  CheckClientError(id);
  input.dry_run = options.dry_run();
  input.allow_mass_termination = options.allow_mass_termination();
  input.effective_date = options.effective_date();

  int next_id = 0;
  auto plan = Plan(Snapshot{}, input, &next_id);
  if (!plan.ok()) {
    Check(plan.status().code() == absl::StatusCode::kInvalidArgument ||
          plan.status().code() == absl::StatusCode::kFailedPrecondition);
    return 0;
  }
  Check(plan->update_people.empty() && plan->update_teams.empty());
  v1::SyncPeopleResponse response;
  ToProto(*plan, input.dry_run, &response);

  Snapshot after{plan->create_people, plan->create_teams};
  auto again = Plan(after, input, &next_id);
  Check(again.ok());
  Check(again->create_people.empty() && again->create_teams.empty());
  return 0;
}
