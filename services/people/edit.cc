#include "services/people/edit.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"

namespace sightline::people {
namespace {

// The snapshot indexed by id.
struct Index {
  explicit Index(const Snapshot& s) {
    for (const auto& p : s.people) people[p.id] = &p;
    for (const auto& t : s.teams) teams[t.id] = &t;
  }
  std::string PersonExt(const std::string& id) const {
    auto it = people.find(id);
    return it == people.end() ? "" : it->second->external_id;
  }
  std::string TeamExt(const std::string& id) const {
    auto it = teams.find(id);
    return it == teams.end() ? "" : it->second->external_id;
  }
  absl::flat_hash_map<std::string, const Person*> people;
  absl::flat_hash_map<std::string, const Team*> teams;
};

PersonRecord Record(const Index& index, const Person& p) {
  PersonRecord r;
  r.external_id = p.external_id;
  r.email = p.email;
  r.display_name = p.display_name;
  r.title = p.title;
  r.team_external_id = index.TeamExt(p.team_id);
  r.manager_external_id = index.PersonExt(p.manager_id);
  r.status = static_cast<int>(p.status);
  r.start_date = p.start_date;
  r.end_date = p.end_date;
  r.roles = p.roles;
  return r;
}

absl::Status Uniqueness(absl::string_view what) {
  return status::WithErrorInfo(absl::AlreadyExistsError(what), "UNIQUENESS");
}

absl::Status Stale(int64_t expected, int64_t actual) {
  if (expected != 0 && expected != actual) {
    return absl::AbortedError(absl::StrCat("the resource is at revision ",
                                           actual, ", not ", expected));
  }
  return absl::OkStatus();
}

// The person or team an edit applies to: NOT_FOUND when it does not exist,
// ABORTED at another revision than the one expected, INVALID_ARGUMENT
// (MUTABILITY) when the edit would move its external id, by which rosters
// find it.
template <typename T>
absl::StatusOr<const T*> Existing(
    const absl::flat_hash_map<std::string, const T*>& by_id,
    absl::string_view collection, const T& want, int64_t expected_revision) {
  auto it = by_id.find(want.id);
  if (it == by_id.end()) {
    return absl::NotFoundError(
        absl::StrCat(collection, "/", want.id, " does not exist"));
  }
  const T* old = it->second;
  if (auto st = Stale(expected_revision, old->revision); !st.ok()) return st;
  if (!want.external_id.empty() && want.external_id != old->external_id) {
    return status::WithErrorInfo(
        status::InvalidField("external_id", "cannot change once set"),
        "MUTABILITY");
  }
  return old;
}

}  // namespace

PersonRecord RecordOfPerson(const Snapshot& current, const Person& p) {
  return Record(Index(current), p);
}

absl::StatusOr<SyncInput> PlanPersonEdit(const Snapshot& current,
                                         const PersonEdit& edit) {
  Index index(current);
  const Person& want = edit.desired;
  std::string email = NormalizeEmail(want.email);
  const Person* old = nullptr;
  if (edit.create) {
    std::string ext = want.external_id.empty() ? email : want.external_id;
    for (const auto& p : current.people) {
      if (p.external_id == ext) {
        return Uniqueness(
            absl::StrCat("a person with external id ", ext, " exists"));
      }
      if (!email.empty() && p.email == email) {
        return Uniqueness(
            absl::StrCat("a person with email ", email, " exists"));
      }
    }
  } else {
    auto found = Existing(index.people, "people", want, edit.expected_revision);
    if (!found.ok()) return found.status();
    old = *found;
    for (const auto& p : current.people) {
      if (p.id != old->id && !email.empty() && p.email == email) {
        return Uniqueness(
            absl::StrCat("a person with email ", email, " exists"));
      }
    }
  }
  if (!want.manager_id.empty() && !index.people.contains(want.manager_id)) {
    return status::InvalidField(
        "manager_id",
        absl::StrCat("person ", want.manager_id, " does not exist"));
  }
  if (!want.team_id.empty() && !index.teams.contains(want.team_id)) {
    return status::InvalidField(
        "team_id", absl::StrCat("team ", want.team_id, " does not exist"));
  }
  PersonRecord r = Record(index, want);
  r.email = want.email;
  if (old == nullptr) {
    if (r.external_id.empty()) r.external_id = email;
    r.end_date.clear();
  } else {
    r.external_id = old->external_id;
    r.roles = old->roles;
    r.start_date = old->start_date;
    r.end_date = old->end_date;
    // Back from a termination: the old end date no longer holds.
    if (want.status != PersonStatus::kTerminated &&
        old->status == PersonStatus::kTerminated) {
      r.end_date.clear();
    }
  }
  SyncInput input;
  input.mode = SyncMode::kIncremental;
  input.people.push_back(std::move(r));
  return input;
}

absl::StatusOr<SyncInput> PlanTeamEdit(const Snapshot& current,
                                       const TeamEdit& edit) {
  Index index(current);
  const Team& want = edit.desired;
  const Team* old = nullptr;
  TeamRecord t;
  if (edit.create) {
    t.external_id =
        want.external_id.empty() ? want.display_name : want.external_id;
    for (const auto& existing : current.teams) {
      if (existing.external_id == t.external_id) {
        return Uniqueness(
            absl::StrCat("a team with external id ", t.external_id, " exists"));
      }
    }
  } else {
    auto found = Existing(index.teams, "teams", want, edit.expected_revision);
    if (!found.ok()) return found.status();
    old = *found;
    t.external_id = old->external_id;
    t.parent_external_id = index.TeamExt(old->parent_id);
    t.lead_external_id = index.PersonExt(old->lead_id);
  }
  t.display_name = want.display_name;

  // Membership afterwards, for the people it touches.
  absl::flat_hash_map<std::string, bool> member;  // person id -> in the team
  auto check = [&](const std::string& id) -> absl::Status {
    if (!index.people.contains(id)) {
      return status::InvalidField(
          "members", absl::StrCat("person ", id, " does not exist"));
    }
    return absl::OkStatus();
  };
  if (edit.members.has_value()) {
    if (old != nullptr) {
      for (const auto& p : current.people) {
        if (p.team_id == old->id) member[p.id] = false;
      }
    }
    for (const auto& id : *edit.members) {
      if (auto st = check(id); !st.ok()) return st;
      member[id] = true;
    }
  }
  for (const auto& id : edit.add_members) {
    if (auto st = check(id); !st.ok()) return st;
    member[id] = true;
  }
  for (const auto& id : edit.remove_members) {
    if (auto st = check(id); !st.ok()) return st;
    member[id] = false;
  }

  SyncInput input;
  input.mode = SyncMode::kIncremental;
  input.teams.push_back(std::move(t));
  const std::string& team_ext = input.teams.back().external_id;
  // In snapshot order, so the records (and the change feed) are stable.
  int n = 0;
  for (const auto& p : current.people) {
    auto it = member.find(p.id);
    if (it == member.end()) continue;
    bool now_in = old != nullptr && p.team_id == old->id;
    if (it->second == now_in) continue;
    PersonRecord r = Record(index, p);
    if (it->second) {
      r.team_external_id = team_ext;
    } else {
      r.team_external_id.clear();
    }
    r.index = ++n;
    input.people.push_back(std::move(r));
  }
  return input;
}

}  // namespace sightline::people
