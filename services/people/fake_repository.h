#pragma once

// An in-memory PeopleRepository for tests of the service: people and teams in
// maps, a sync applied to a copy that replaces the directory only when the
// transaction's function succeeds, and idempotency records kept like the SQL
// store keeps them.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "services/people/repository.h"

namespace sightline::people {

class FakePeopleRepository : public PeopleRepository {
 public:
  void Put(const Person& p) { people_[p.id] = p; }
  void Put(const Team& t) { teams_[t.id] = t; }
  const std::map<std::string, Person>& people() const { return people_; }
  const std::map<std::string, Team>& teams() const { return teams_; }
  // Memory held for PeekPerson.
  void Hold(const Person& p) {
    held_[p.id] = std::make_shared<const CachedPerson>(p);
  }
  // Runs the next sync's function this many times more before the one that
  // commits, as a store retrying a transaction does.
  void RetryNextSync(int times) { retries_ = times; }
  int syncs() const { return syncs_; }
  int64_t last_seq() const { return seq_; }

  absl::StatusOr<Person> GetPerson(const std::string& id) override {
    auto it = people_.find(id);
    if (it == people_.end()) {
      return absl::NotFoundError(
          absl::StrCat("people/", id, " does not exist"));
    }
    return it->second;
  }
  std::shared_ptr<const CachedPerson> PeekPerson(
      const std::string& id) override {
    auto it = held_.find(id);
    return it == held_.end() ? nullptr : it->second;
  }
  absl::StatusOr<std::vector<Person>> GetPeople(
      const std::vector<std::string>& ids) override {
    std::vector<Person> out;
    for (const auto& id : ids) {
      if (auto it = people_.find(id); it != people_.end()) {
        out.push_back(it->second);
      }
    }
    return out;
  }
  absl::StatusOr<Person> FindByExternalId(
      const std::string& external_id) override {
    return FindBy([&](const Person& p) { return p.external_id == external_id; },
                  "external_id");
  }
  absl::StatusOr<Person> FindByEmail(const std::string& email) override {
    return FindBy([&](const Person& p) { return p.email == email; }, "email");
  }
  absl::StatusOr<std::vector<Person>> ListPeople(const PeopleFilter& f,
                                                 const Page& page) override {
    return PageOf(people_, page, [&](const Person& p) {
      return (f.team_id.empty() || p.team_id == f.team_id) &&
             (f.manager_id.empty() || p.manager_id == f.manager_id) &&
             (f.status == 0 || static_cast<int>(p.status) == f.status);
    });
  }
  absl::StatusOr<std::vector<Person>> ListReports(const std::string& manager_id,
                                                  bool all_levels, int status,
                                                  const Page& page) override {
    std::set<std::string> below;
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [id, p] : people_) {
        bool reports = p.manager_id == manager_id ||
                       (all_levels && below.contains(p.manager_id));
        if (reports && below.insert(id).second) grew = true;
      }
      if (!all_levels) break;
    }
    return PageOf(people_, page, [&](const Person& p) {
      return below.contains(p.id) &&
             (status == 0 || static_cast<int>(p.status) == status);
    });
  }
  absl::StatusOr<std::vector<Person>> ReportingChain(
      const std::string& id) override {
    auto p = GetPerson(id);
    if (!p.ok()) return p.status();
    std::vector<Person> out;
    for (std::string m = p->manager_id; !m.empty() && out.size() < 64;) {
      auto it = people_.find(m);
      if (it == people_.end()) break;
      out.push_back(it->second);
      m = it->second.manager_id;
    }
    return out;
  }
  absl::StatusOr<Team> GetTeam(const std::string& id) override {
    auto it = teams_.find(id);
    if (it == teams_.end()) {
      return absl::NotFoundError(absl::StrCat("teams/", id, " does not exist"));
    }
    return it->second;
  }
  absl::StatusOr<std::vector<Team>> ListTeams(const std::string& parent_id,
                                              const Page& page) override {
    return PageOf(teams_, page, [&](const Team& t) {
      return parent_id.empty() || t.parent_id == parent_id;
    });
  }

  absl::Status Sync(bool dry_run,
                    const std::function<absl::Status(SyncTx&)>& fn,
                    int64_t* last_seq) override {
    ++syncs_;
    *last_seq = 0;
    for (;; --retries_) {
      Tx tx(this, dry_run);
      absl::Status st = fn(tx);
      if (retries_ > 0) continue;  // thrown away, as a rolled back attempt
      if (!st.ok() || dry_run) return st;
      // Commit: the directory, the change log, then the recorded answers.
      people_ = std::move(tx.people);
      teams_ = std::move(tx.teams);
      seq_ += tx.events;
      if (tx.events > 0) *last_seq = seq_;
      for (auto& [key, record] : tx.records) {
        answers_[key] = {record.first, record.second(seq_)};
      }
      return absl::OkStatus();
    }
  }

 private:
  class Tx : public SyncTx {
   public:
    Tx(FakePeopleRepository* repo, bool dry_run)
        : people(repo->people_),
          teams(repo->teams_),
          repo_(repo),
          dry_run_(dry_run) {}

    absl::StatusOr<std::optional<std::string>> FindIdempotent(
        const Idempotency& idem) override {
      auto it = repo_->answers_.find(Key(idem));
      if (it == repo_->answers_.end()) return std::nullopt;
      if (it->second.first != idem.fingerprint) {
        return status::InvalidField(
            "request_id",
            "was already used for a different request; use a new id");
      }
      return std::optional<std::string>(it->second.second);
    }
    absl::StatusOr<Snapshot> ReadAll() override {
      Snapshot s;
      for (const auto& [id, p] : people) s.people.push_back(p);
      for (const auto& [id, t] : teams) s.teams.push_back(t);
      return s;
    }
    absl::Status Apply(const SyncPlan& plan) override {
      if (dry_run_) return absl::FailedPreconditionError("dry run");
      for (const auto* list : {&plan.create_people, &plan.update_people}) {
        for (const auto& p : *list) people[p.id] = p;
        events += static_cast<int64_t>(list->size());
      }
      for (const auto* list : {&plan.create_teams, &plan.update_teams}) {
        for (const auto& t : *list) teams[t.id] = t;
        events += static_cast<int64_t>(list->size());
      }
      return absl::OkStatus();
    }
    absl::Status RecordIdempotent(
        const Idempotency& idem,
        std::function<std::string(int64_t last_seq)> answer) override {
      if (dry_run_) return absl::FailedPreconditionError("dry run");
      records[Key(idem)] = {idem.fingerprint, std::move(answer)};
      return absl::OkStatus();
    }

    std::map<std::string, Person> people;
    std::map<std::string, Team> teams;
    int64_t events = 0;
    std::map<std::string,
             std::pair<std::string, std::function<std::string(int64_t)>>>
        records;

   private:
    static std::string Key(const Idempotency& idem) {
      return absl::StrCat(idem.scope, "\n", idem.request_id);
    }
    FakePeopleRepository* repo_;
    bool dry_run_;
  };

  template <typename Match>
  absl::StatusOr<Person> FindBy(Match match, absl::string_view column) {
    for (const auto& [id, p] : people_) {
      if (match(p)) return p;
    }
    return absl::NotFoundError(absl::StrCat("no person with this ", column));
  }

  template <typename T, typename Keep>
  static std::vector<T> PageOf(const std::map<std::string, T>& rows,
                               const Page& page, Keep keep) {
    std::vector<T> out;
    for (auto it = rows.upper_bound(page.after);
         it != rows.end() && static_cast<int>(out.size()) < page.limit; ++it) {
      if (keep(it->second)) out.push_back(it->second);
    }
    return out;
  }

  std::map<std::string, Person> people_;
  std::map<std::string, Team> teams_;
  std::map<std::string, std::shared_ptr<const CachedPerson>> held_;
  std::map<std::string, std::pair<std::string, std::string>> answers_;
  int64_t seq_ = 0;
  int retries_ = 0;
  int syncs_ = 0;
};

}  // namespace sightline::people
