#include "services/people/sync.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/status/status.h"

namespace sightline::people {
namespace {

constexpr size_t kMaxExternalId = 128;
constexpr size_t kMaxName = 200;

std::string StatusName(int s) {
  switch (s) {
    case 1:
      return "ACTIVE";
    case 2:
      return "ON_LEAVE";
    case 3:
      return "TERMINATED";
    default:
      return "UNSPECIFIED";
  }
}

bool IsActive(PersonStatus s) { return s != PersonStatus::kTerminated; }

bool HasControlChars(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Collects field violations, stopping at a limit so a garbage file cannot
// produce an unbounded error.
class Errors {
 public:
  explicit Errors(int max) : max_(max) {}
  void Add(int index, absl::string_view field, int64_t row,
           absl::string_view rule) {
    if (static_cast<int>(v_.size()) >= max_) {
      truncated_ = true;
      return;
    }
    std::string where = absl::StrCat("records[", index, "].", field);
    std::string desc =
        row > 0 ? absl::StrCat("row ", row, ": ", rule) : std::string(rule);
    v_.push_back({where, desc});
  }
  bool empty() const { return v_.empty(); }
  absl::Status Build() const {
    auto v = v_;
    if (truncated_)
      v.push_back(
          {"records", absl::StrCat("more than ", max_, " errors; stopped")});
    return status::InvalidFields(v);
  }

 private:
  int max_;
  bool truncated_ = false;
  std::vector<status::FieldViolation> v_;
};

struct PersonState {
  const PersonRecord* record = nullptr;  // null: unchanged from the database
  const Person* existing = nullptr;
  std::string email;
  std::string manager_ext;
};

// Finds the records on a cycle of `parent` links (iterative three-colour walk).
template <typename ParentFn>
std::vector<std::string> FindCycles(const std::vector<std::string>& nodes,
                                    ParentFn parent) {
  absl::flat_hash_map<std::string, int> color;  // 0 new, 1 on path, 2 done
  std::vector<std::string> on_cycle;
  for (const auto& start : nodes) {
    if (color[start] != 0) continue;
    std::vector<std::string> path;
    std::string cur = start;
    while (!cur.empty() && color[cur] == 0) {
      color[cur] = 1;
      path.push_back(cur);
      cur = parent(cur);
    }
    if (!cur.empty() && color[cur] == 1) {
      // Everything on the path from `cur` onwards is a cycle.
      auto it = std::find(path.begin(), path.end(), cur);
      on_cycle.insert(on_cycle.end(), it, path.end());
    }
    for (const auto& n : path) color[n] = 2;
  }
  return on_cycle;
}

std::vector<std::string> NormalizedRoles(
    const std::vector<std::string>& roles) {
  std::vector<std::string> out;
  for (const auto& r : roles) out.push_back(absl::AsciiStrToLower(r));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

bool IsValidDate(absl::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return false;
  int y, m, d;
  if (!absl::SimpleAtoi(date.substr(0, 4), &y) ||
      !absl::SimpleAtoi(date.substr(5, 2), &m) ||
      !absl::SimpleAtoi(date.substr(8, 2), &d)) {
    return false;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(date[i]))) return false;
  }
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = kDays[m - 1] + (m == 2 && leap ? 1 : 0);
  return d <= max;
}

bool IsValidEmail(absl::string_view email) {
  if (email.empty() || email.size() > 254) return false;
  size_t at = email.find('@');
  if (at == absl::string_view::npos || at != email.rfind('@')) return false;
  absl::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64 || domain.empty()) return false;
  if (local.front() == '.' || local.back() == '.' ||
      absl::StrContains(local, ".."))
    return false;
  for (char c : local) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (absl::string_view("!#$%&'*+/=?^_`{|}~.-").find(c) ==
        absl::string_view::npos) {
      return false;
    }
  }
  std::vector<absl::string_view> labels = absl::StrSplit(domain, '.');
  if (labels.size() < 2) return false;
  for (absl::string_view label : labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-')
        return false;
    }
  }
  absl::string_view tld = labels.back();
  if (tld.size() < 2) return false;
  for (char c : tld) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsKnownRole(absl::string_view role) {
  return role == "employee" || role == "manager" || role == "hr_admin" ||
         role == "service";
}

std::string NormalizeEmail(absl::string_view email) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(email));
}

absl::StatusOr<SyncPlan> PlanSync(const Snapshot& current,
                                  const SyncInput& input,
                                  const SyncPolicy& policy,
                                  absl::FunctionRef<std::string()> new_id,
                                  int64_t now_micros, absl::string_view today) {
  Errors errors(policy.max_errors);
  std::string effective =
      input.effective_date.empty() ? std::string(today) : input.effective_date;

  // The directory as it is.
  absl::flat_hash_map<std::string, const Person*> person_by_ext, person_by_id;
  absl::flat_hash_map<std::string, const Team*> team_by_ext, team_by_id;
  for (const auto& p : current.people) {
    person_by_ext[p.external_id] = &p;
    person_by_id[p.id] = &p;
  }
  for (const auto& t : current.teams) {
    team_by_ext[t.external_id] = &t;
    team_by_id[t.id] = &t;
  }
  auto person_ext_of = [&](const std::string& id) -> std::string {
    auto it = person_by_id.find(id);
    return it == person_by_id.end() ? "" : it->second->external_id;
  };
  auto team_ext_of = [&](const std::string& id) -> std::string {
    auto it = team_by_id.find(id);
    return it == team_by_id.end() ? "" : it->second->external_id;
  };

  // Team records: each field, and duplicates within the stream.
  absl::flat_hash_map<std::string, const TeamRecord*> team_records;
  for (const auto& r : input.teams) {
    if (r.external_id.empty()) {
      errors.Add(r.index, "external_id", r.source_row, "must not be empty");
      continue;
    }
    if (r.external_id.size() > kMaxExternalId ||
        HasControlChars(r.external_id)) {
      errors.Add(r.index, "external_id", r.source_row,
                 "must be at most 128 printable characters");
      continue;
    }
    if (!team_records.emplace(r.external_id, &r).second) {
      errors.Add(
          r.index, "external_id", r.source_row,
          absl::StrCat("team ", r.external_id, " appears twice in the sync"));
      continue;
    }
    if (r.display_name.empty() || r.display_name.size() > kMaxName) {
      errors.Add(r.index, "display_name", r.source_row,
                 "must be 1..200 characters");
    }
  }
  auto team_exists = [&](const std::string& ext) {
    return team_records.contains(ext) || team_by_ext.contains(ext);
  };

  // Person records.
  absl::flat_hash_map<std::string, PersonState>
      people;  // the result, by external id
  people.reserve(current.people.size() + input.people.size());
  for (const auto& p : current.people) {
    people[p.external_id] =
        PersonState{nullptr, &p, p.email, person_ext_of(p.manager_id)};
  }
  absl::flat_hash_set<std::string> seen;
  seen.reserve(input.people.size());
  std::vector<const PersonRecord*> valid;
  valid.reserve(input.people.size());
  for (const auto& r : input.people) {
    if (r.external_id.empty()) {
      errors.Add(r.index, "external_id", r.source_row, "must not be empty");
      continue;
    }
    if (r.external_id.size() > kMaxExternalId ||
        HasControlChars(r.external_id)) {
      errors.Add(r.index, "external_id", r.source_row,
                 "must be at most 128 printable characters");
      continue;
    }
    if (!seen.insert(r.external_id).second) {
      errors.Add(
          r.index, "external_id", r.source_row,
          absl::StrCat("person ", r.external_id, " appears twice in the sync"));
      continue;
    }
    bool ok = true;
    std::string email = NormalizeEmail(r.email);
    if (!IsValidEmail(email)) {
      errors.Add(r.index, "email", r.source_row,
                 absl::StrCat("'", r.email, "' is not a valid email address"));
      ok = false;
    }
    if (r.display_name.empty() || r.display_name.size() > kMaxName ||
        HasControlChars(r.display_name)) {
      errors.Add(r.index, "display_name", r.source_row,
                 "must be 1..200 printable characters");
      ok = false;
    }
    if (r.title.size() > kMaxName || HasControlChars(r.title)) {
      errors.Add(r.index, "title", r.source_row,
                 "must be at most 200 printable characters");
      ok = false;
    }
    if (r.status < 0 || r.status > 3) {
      errors.Add(r.index, "status", r.source_row,
                 "must be ACTIVE, ON_LEAVE or TERMINATED");
      ok = false;
    }
    if (!r.start_date.empty() && !IsValidDate(r.start_date)) {
      errors.Add(
          r.index, "start_date", r.source_row,
          absl::StrCat("'", r.start_date, "' is not a date (YYYY-MM-DD)"));
      ok = false;
    }
    if (!r.end_date.empty() && !IsValidDate(r.end_date)) {
      errors.Add(r.index, "end_date", r.source_row,
                 absl::StrCat("'", r.end_date, "' is not a date (YYYY-MM-DD)"));
      ok = false;
    } else if (!r.end_date.empty() && !r.start_date.empty() &&
               r.end_date < r.start_date) {
      errors.Add(r.index, "end_date", r.source_row,
                 "must not be before start_date");
      ok = false;
    }
    for (const auto& role : r.roles) {
      if (!IsKnownRole(absl::AsciiStrToLower(role))) {
        errors.Add(r.index, "roles", r.source_row,
                   absl::StrCat("unknown role '", role,
                                "' (employee, manager, hr_admin, service)"));
        ok = false;
      }
    }
    if (!r.team_external_id.empty() && !team_exists(r.team_external_id)) {
      errors.Add(r.index, "team_external_id", r.source_row,
                 absl::StrCat("team ", r.team_external_id, " does not exist"));
      ok = false;
    }
    auto& state = people[r.external_id];
    state.record = &r;
    state.email = email;
    state.manager_ext = r.manager_external_id;
    if (ok) valid.push_back(&r);
  }

  // FULL: active people missing from the roster leave.
  std::vector<const Person*> leavers;
  if (input.mode == SyncMode::kFull) {
    for (const auto& p : current.people) {
      if (!seen.contains(p.external_id) && IsActive(p.status))
        leavers.push_back(&p);
    }
  }

  // Managers must exist in the result, and reporting lines must not loop.
  for (const PersonRecord* r : valid) {
    if (r->manager_external_id.empty()) continue;
    if (r->manager_external_id == r->external_id) {
      errors.Add(r->index, "manager_external_id", r->source_row,
                 "a person cannot be their own manager");
    } else if (!people.contains(r->manager_external_id)) {
      errors.Add(
          r->index, "manager_external_id", r->source_row,
          absl::StrCat("manager ", r->manager_external_id, " does not exist"));
    }
  }
  {
    std::vector<std::string> nodes;
    nodes.reserve(input.people.size());
    for (const auto& r : input.people) nodes.push_back(r.external_id);
    auto cycle = FindCycles(nodes, [&](const std::string& ext) -> std::string {
      auto it = people.find(ext);
      if (it == people.end()) return "";
      const std::string& m = it->second.manager_ext;
      return m == ext ? "" : m;  // self-management is reported above
    });
    absl::flat_hash_set<std::string> in_cycle(cycle.begin(), cycle.end());
    std::string loop = absl::StrJoin(cycle, " -> ");
    for (const auto& ext : cycle) {
      const PersonState& s = people[ext];
      if (s.record != nullptr) {
        errors.Add(s.record->index, "manager_external_id", s.record->source_row,
                   absl::StrCat("reporting lines form a cycle: ", loop));
      }
    }
  }

  // Emails are unique in the result.
  {
    absl::flat_hash_map<std::string, std::string>
        owner;  // email -> external id
    owner.reserve(people.size());
    // Records first, so a record that takes an email a database row keeps is
    // the one reported.
    for (const auto& r : input.people) {
      auto it = people.find(r.external_id);
      if (it == people.end() || it->second.record != &r) continue;
      const std::string& email = it->second.email;
      if (email.empty()) continue;
      auto [pos, inserted] = owner.emplace(email, r.external_id);
      if (!inserted) {
        errors.Add(r.index, "email", r.source_row,
                   absl::StrCat(email, " is already used by ", pos->second));
      }
    }
    for (const auto& p : current.people) {
      if (seen.contains(p.external_id)) continue;
      auto it = owner.find(p.email);
      if (it != owner.end()) {
        const PersonRecord* r = people[it->second].record;
        errors.Add(
            r->index, "email", r->source_row,
            absl::StrCat(p.email, " already belongs to ", p.external_id));
      }
    }
  }

  // Team references and team hierarchy.
  for (const auto& [ext, r] : team_records) {
    if (!r->parent_external_id.empty()) {
      if (r->parent_external_id == ext) {
        errors.Add(r->index, "parent_external_id", r->source_row,
                   "a team cannot be its own parent");
      } else if (!team_exists(r->parent_external_id)) {
        errors.Add(
            r->index, "parent_external_id", r->source_row,
            absl::StrCat("team ", r->parent_external_id, " does not exist"));
      }
    }
    if (!r->lead_external_id.empty() && !people.contains(r->lead_external_id)) {
      errors.Add(
          r->index, "lead_external_id", r->source_row,
          absl::StrCat("person ", r->lead_external_id, " does not exist"));
    }
  }
  {
    std::vector<std::string> nodes;
    for (const auto& r : input.teams) nodes.push_back(r.external_id);
    auto parent_of = [&](const std::string& ext) -> std::string {
      auto rec = team_records.find(ext);
      std::string parent;
      if (rec != team_records.end()) {
        parent = rec->second->parent_external_id;
      } else if (auto t = team_by_ext.find(ext); t != team_by_ext.end()) {
        parent = team_ext_of(t->second->parent_id);
      }
      return parent == ext ? "" : parent;
    };
    auto cycle = FindCycles(nodes, parent_of);
    std::string loop = absl::StrJoin(cycle, " -> ");
    for (const auto& ext : cycle) {
      auto rec = team_records.find(ext);
      if (rec != team_records.end()) {
        errors.Add(rec->second->index, "parent_external_id",
                   rec->second->source_row,
                   absl::StrCat("teams form a cycle: ", loop));
      }
    }
  }

  if (!errors.empty()) return errors.Build();

  // The diff. New records get their ids first, so references resolve.
  SyncPlan plan;
  absl::flat_hash_map<std::string, std::string> new_team_ids, new_person_ids;
  for (const auto& r : input.teams) {
    if (!team_by_ext.contains(r.external_id))
      new_team_ids[r.external_id] = new_id();
  }
  for (const auto& r : input.people) {
    if (!person_by_ext.contains(r.external_id))
      new_person_ids[r.external_id] = new_id();
  }
  auto team_id_of = [&](const std::string& ext) -> std::string {
    if (ext.empty()) return "";
    if (auto it = team_by_ext.find(ext); it != team_by_ext.end())
      return it->second->id;
    return new_team_ids[ext];
  };
  auto person_id_of = [&](const std::string& ext) -> std::string {
    if (ext.empty()) return "";
    if (auto it = person_by_ext.find(ext); it != person_by_ext.end())
      return it->second->id;
    return new_person_ids[ext];
  };
  auto add_detail = [&](ChangeDetail d) {
    if (static_cast<int>(plan.details.size()) < policy.max_details) {
      plan.details.push_back(std::move(d));
    }
  };

  for (const auto& r : input.teams) {
    Team t;
    t.external_id = r.external_id;
    t.display_name = r.display_name;
    t.parent_id = team_id_of(r.parent_external_id);
    t.lead_id = person_id_of(r.lead_external_id);
    auto existing = team_by_ext.find(r.external_id);
    if (existing == team_by_ext.end()) {
      t.id = new_team_ids[r.external_id];
      t.revision = 1;
      t.create_time = t.update_time = now_micros;
      ChangeDetail d{ChangeAction::kCreated, true, t.id, t.external_id, {}};
      d.fields.push_back({"display_name", "", t.display_name});
      if (!r.parent_external_id.empty())
        d.fields.push_back({"parent_external_id", "", r.parent_external_id});
      if (!r.lead_external_id.empty())
        d.fields.push_back({"lead_external_id", "", r.lead_external_id});
      add_detail(std::move(d));
      plan.create_teams.push_back(std::move(t));
      ++plan.teams.created;
      continue;
    }
    const Team& old = *existing->second;
    std::vector<FieldChange> fields;
    if (old.display_name != t.display_name)
      fields.push_back({"display_name", old.display_name, t.display_name});
    if (old.parent_id != t.parent_id) {
      fields.push_back({"parent_external_id", team_ext_of(old.parent_id),
                        r.parent_external_id});
    }
    if (old.lead_id != t.lead_id) {
      fields.push_back(
          {"lead_external_id", person_ext_of(old.lead_id), r.lead_external_id});
    }
    if (fields.empty()) {
      ++plan.teams.unchanged;
      continue;
    }
    t.id = old.id;
    t.revision = old.revision + 1;
    t.create_time = old.create_time;
    t.update_time = now_micros;
    add_detail(
        {ChangeAction::kUpdated, true, t.id, t.external_id, std::move(fields)});
    plan.update_teams.push_back(std::move(t));
    ++plan.teams.updated;
  }

  int active_before = 0;
  for (const auto& p : current.people)
    active_before += IsActive(p.status) ? 1 : 0;
  int terminations = 0;

  for (const auto& r : input.people) {
    Person p;
    p.external_id = r.external_id;
    p.email = NormalizeEmail(r.email);
    p.display_name = r.display_name;
    p.title = r.title;
    p.team_id = team_id_of(r.team_external_id);
    p.manager_id = person_id_of(r.manager_external_id);
    p.status = r.status == 0 ? PersonStatus::kActive
                             : static_cast<PersonStatus>(r.status);
    p.start_date = r.start_date;
    p.end_date = r.end_date;
    p.roles = NormalizedRoles(r.roles);
    auto existing = person_by_ext.find(r.external_id);
    if (p.status == PersonStatus::kTerminated && p.end_date.empty()) {
      // Keep the date a termination was first recorded on, so re-sending the
      // same roster on another day changes nothing.
      bool already = existing != person_by_ext.end() &&
                     existing->second->status == PersonStatus::kTerminated &&
                     !existing->second->end_date.empty();
      p.end_date = already ? existing->second->end_date : effective;
    }
    if (existing == person_by_ext.end()) {
      p.id = new_person_ids[r.external_id];
      p.revision = 1;
      p.create_time = p.update_time = now_micros;
      ChangeDetail d{ChangeAction::kCreated, false, p.id, p.external_id, {}};
      d.fields.push_back({"email", "", p.email});
      d.fields.push_back({"display_name", "", p.display_name});
      if (!r.manager_external_id.empty())
        d.fields.push_back({"manager_external_id", "", r.manager_external_id});
      add_detail(std::move(d));
      plan.create_people.push_back(std::move(p));
      ++plan.people.created;
      continue;
    }
    const Person& old = *existing->second;
    std::vector<FieldChange> fields;
    auto cmp = [&](absl::string_view name, const std::string& a,
                   const std::string& b) {
      if (a != b) fields.push_back({std::string(name), a, b});
    };
    cmp("email", old.email, p.email);
    cmp("display_name", old.display_name, p.display_name);
    cmp("title", old.title, p.title);
    if (old.team_id != p.team_id) {
      fields.push_back(
          {"team_external_id", team_ext_of(old.team_id), r.team_external_id});
    }
    if (old.manager_id != p.manager_id) {
      fields.push_back({"manager_external_id", person_ext_of(old.manager_id),
                        r.manager_external_id});
    }
    if (old.status != p.status) {
      fields.push_back({"status", StatusName(static_cast<int>(old.status)),
                        StatusName(static_cast<int>(p.status))});
    }
    cmp("start_date", old.start_date, p.start_date);
    cmp("end_date", old.end_date, p.end_date);
    if (old.roles != p.roles) {
      fields.push_back({"roles", absl::StrJoin(old.roles, ","),
                        absl::StrJoin(p.roles, ",")});
    }
    if (fields.empty()) {
      ++plan.people.unchanged;
      continue;
    }
    if (old.email != p.email) {
      plan.old_emails.push_back(old.email);
      plan.email_changed_ids.push_back(old.id);
    }
    p.id = old.id;
    p.revision = old.revision + 1;
    p.create_time = old.create_time;
    p.update_time = now_micros;
    bool terminated =
        IsActive(old.status) && p.status == PersonStatus::kTerminated;
    if (terminated) {
      ++terminations;
      ++plan.people.terminated;
    } else {
      ++plan.people.updated;
    }
    add_detail({terminated ? ChangeAction::kTerminated : ChangeAction::kUpdated,
                false, p.id, p.external_id, std::move(fields)});
    plan.update_people.push_back(std::move(p));
  }

  for (const Person* old : leavers) {
    Person p = *old;
    p.status = PersonStatus::kTerminated;
    if (p.end_date.empty() || p.end_date > effective) p.end_date = effective;
    p.revision = old->revision + 1;
    p.update_time = now_micros;
    add_detail(
        {ChangeAction::kTerminated,
         false,
         p.id,
         p.external_id,
         {{"status", StatusName(static_cast<int>(old->status)), "TERMINATED"},
          {"end_date", old->end_date, p.end_date}}});
    plan.update_people.push_back(std::move(p));
    ++plan.people.terminated;
    ++terminations;
  }

  if (input.mode == SyncMode::kFull && !input.allow_mass_termination &&
      active_before > 0 &&
      terminations > policy.mass_termination_share * active_before) {
    return status::WithErrorInfo(
        absl::FailedPreconditionError(absl::StrFormat(
            "sync would terminate %d of %d active people (more than %.0f%%); "
            "resend with "
            "allow_mass_termination if this is intended",
            terminations, active_before, policy.mass_termination_share * 100)),
        "MASS_TERMINATION",
        {{"would_terminate", absl::StrCat(terminations)},
         {"active", absl::StrCat(active_before)},
         {"max_share",
          absl::StrFormat("%.2f", policy.mass_termination_share)}});
  }
  return plan;
}

}  // namespace sightline::people
