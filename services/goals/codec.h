#pragma once

// Domain types <-> the storage records of goals_store.proto.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/goals/goals_store.pb.h"
#include "services/goals/model.h"

namespace sightline::goals {

void ToRecord(const Cycle& c, store::CycleRecord* r);
void FromRecord(const store::CycleRecord& r, Cycle* c);
void ToRecord(const Goal& g, store::GoalRecord* r);
void FromRecord(const store::GoalRecord& r, Goal* g);
void ToRecord(const KeyResult& k, store::KeyResultRecord* r);
void FromRecord(const store::KeyResultRecord& r, KeyResult* k);
void ToRecord(const CheckIn& c, store::CheckInRecord* r);
void FromRecord(const store::CheckInRecord& r, CheckIn* c);

std::string Encode(const Goal& g);
bool Decode(absl::string_view bytes, Goal* g);
std::string Encode(const Cycle& c);
bool Decode(absl::string_view bytes, Cycle* c);
std::string Encode(const KeyResult& k);
bool Decode(absl::string_view bytes, KeyResult* k);
std::string Encode(const CheckIn& c);
bool Decode(absl::string_view bytes, CheckIn* c);

// A goal and its key results as of one revision.
struct Snapshot {
  Goal goal;
  std::vector<KeyResult> key_results;
};

}  // namespace sightline::goals
