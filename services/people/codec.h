#pragma once

// The stored form of people and teams (people_store.proto): rows of the change
// log and entries of the Redis cache.

#include <string>

#include "absl/strings/string_view.h"
#include "services/people/model.h"

namespace sightline::people {

std::string EncodePerson(const Person& p);
bool DecodePerson(absl::string_view bytes, Person* p);
std::string EncodeTeam(const Team& t);
bool DecodeTeam(absl::string_view bytes, Team* t);

}  // namespace sightline::people
