#pragma once

// Conversions between the API's messages and the directory's domain types, and
// the API's resource names.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/people/model.h"
#include "services/people/people_service.h"
#include "services/people/sync.h"
#include "sightline/people/v1/people_service.pb.h"

namespace sightline::people {

void ToProto(const Person& p, v1::Person* out);
void ToProto(const Team& t, v1::Team* out);
// A person as the API serializes it.
std::string RenderPerson(const Person& p);

// "people/{person}" -> id; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<std::string> ParsePersonName(absl::string_view name,
                                            absl::string_view field);
absl::StatusOr<std::string> ParseTeamName(absl::string_view name,
                                          absl::string_view field);
// Like ParsePersonName, but an empty name is an empty id.
absl::StatusOr<std::string> OptionalPersonName(absl::string_view name,
                                               absl::string_view field);

google::protobuf::Timestamp Micros(int64_t us);

// Sync records as the planner takes them (moved out of the message).
PersonRecord RecordOf(int index, v1::PersonRecord* r);
TeamRecord RecordOf(int index, v1::TeamRecord* r);
// The plan of a sync as its response: counts and changes (a dry run's new
// people and teams have no name yet). The resume token is the caller's.
void ToProto(const SyncPlan& plan, bool dry_run, v1::SyncPeopleResponse* out);

}  // namespace sightline::people
