// SqlGoalRepository::Write and the transaction it hands to the service.

#include <soci/soci.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/storage/change_log.h"
#include "lib/storage/idempotency.h"
#include "services/goals/sql_internal.h"
#include "services/goals/sql_repository.h"

namespace sightline::goals {

using internal::DecodeAll;

namespace {

std::string B64(const std::string& bytes) { return absl::Base64Escape(bytes); }

class SqlGoalTx : public GoalTx {
 public:
  explicit SqlGoalTx(storage::Tx& tx) : tx_(tx), sql_(tx.sql()) {}

  absl::StatusOr<Cycle> LoadCycle(const std::string& id) override {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT data FROM cycles WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql_.got_data() || ind == soci::i_null) {
      return absl::NotFoundError(
          absl::StrCat("cycles/", id, " does not exist"));
    }
    std::vector<Cycle> out;
    if (auto st = DecodeAll<Cycle>({data}, "cycle", &out); !st.ok()) return st;
    return out[0];
  }

  absl::StatusOr<Goal> LoadGoal(const std::string& id) override {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT data FROM goals WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql_.got_data() || ind == soci::i_null) {
      return absl::NotFoundError(absl::StrCat("goals/", id, " does not exist"));
    }
    std::vector<Goal> out;
    if (auto st = DecodeAll<Goal>({data}, "goal", &out); !st.ok()) return st;
    stored_[id] = Indexed::Of(out[0]);
    return out[0];
  }

  absl::StatusOr<std::vector<KeyResult>> LoadKeyResults(
      const std::string& goal_id) override {
    std::vector<std::string> data;
    std::string d;
    soci::statement st =
        (sql_.prepare << "SELECT data FROM key_results WHERE goal_id = :g "
                         "ORDER BY create_time, id",
         soci::use(goal_id), soci::into(d));
    st.execute();
    while (st.fetch()) data.push_back(d);
    std::vector<KeyResult> out;
    if (auto s = DecodeAll<KeyResult>(data, "key result", &out); !s.ok())
      return s;
    for (const auto& k : out) linked_[k.id] = k.kpi;
    return out;
  }

  absl::StatusOr<std::vector<Goal>> LoadGoalsOfCycle(
      const std::string& cycle_id) override {
    std::vector<std::string> data;
    std::string d;
    soci::statement st =
        (sql_.prepare
             << "SELECT data FROM goals WHERE cycle_id = :c ORDER BY id",
         soci::use(cycle_id), soci::into(d));
    st.execute();
    while (st.fetch()) data.push_back(d);
    std::vector<Goal> out;
    if (auto s = DecodeAll<Goal>(data, "goal", &out); !s.ok()) return s;
    return out;
  }

  absl::StatusOr<CheckIn> LoadCheckIn(const std::string& id) override {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT data FROM check_ins WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql_.got_data() || ind == soci::i_null) {
      return absl::NotFoundError("that check-in does not exist");
    }
    std::vector<CheckIn> out;
    if (auto st = DecodeAll<CheckIn>({data}, "check-in", &out); !st.ok())
      return st;
    return out[0];
  }

  absl::StatusOr<std::vector<Goal>> LoadChildren(
      const std::string& parent_id) override {
    std::vector<std::string> data;
    std::string d;
    soci::statement st =
        (sql_.prepare
             << "SELECT data FROM goals WHERE parent_id = :p ORDER BY id",
         soci::use(parent_id), soci::into(d));
    st.execute();
    while (st.fetch()) data.push_back(d);
    std::vector<Goal> out;
    if (auto s = DecodeAll<Goal>(data, "goal", &out); !s.ok()) return s;
    return out;
  }

  absl::Status LockPath(const std::string& goal_id) override {
    // SQLite: one writer at a time, nothing to lock.
    if (tx_.dialect() != storage::Dialect::kPostgres) return absl::OkStatus();
    std::vector<std::string> path = PathFromRoot(goal_id), locked;
    if (!path.empty()) {
      // Check-ins of one tree queue here first. This lock gives the
      // transaction no id, so ids are handed out in the order the queue is
      // served, and the row locks' check (a locked row written by a younger
      // transaction) seldom has to send a check-in round again.
      sql_ << "SELECT pg_advisory_xact_lock(hashtextextended(:root, 0))",
          soci::use(path.front());
    }
    if (auto st = storage::LockRowsInOrder(tx_, "goals", "id", path, &locked);
        !st.ok()) {
      return st;
    }
    // A goal of the path was moved or deleted between the read and the
    // locks: the locks may not cover what the roll-up will write.
    if (locked != path || PathFromRoot(goal_id) != path) {
      return storage::RetryableConflict(
          absl::StrCat("goals/", goal_id, " moved while it was locked"));
    }
    return absl::OkStatus();
  }

  absl::Status PutCycle(const Cycle& c, bool insert) override {
    std::string data = B64(Encode(c));
    int state = static_cast<int>(c.state);
    if (insert) {
      sql_ << "INSERT INTO cycles (id, state, start_date, data) VALUES (:id, "
              ":s, :d, :data)",
          soci::use(c.id), soci::use(state), soci::use(c.start_date),
          soci::use(data);
    } else {
      sql_ << "UPDATE cycles SET state = :s, start_date = :d, data = :data "
              "WHERE id = :id",
          soci::use(state), soci::use(c.start_date), soci::use(data),
          soci::use(c.id);
    }
    tx_.Emit({kCycleEntity, absl::StrCat("cycles/", c.id), insert ? 1 : 2,
              Encode(c), ""});
    return absl::OkStatus();
  }

  absl::Status PutGoal(const Goal& g, bool insert) override {
    std::string data = B64(Encode(g));
    std::string contributors = absl::StrJoin(g.contributor_ids, ",");
    int level = static_cast<int>(g.level), state = static_cast<int>(g.state),
        visibility = static_cast<int>(g.visibility),
        status = static_cast<int>(g.last_check_in_status);
    long long last = g.last_check_in_time, activate = g.activate_time,
              rev = g.revision, updated = g.update_time;
    if (insert) {
      sql_ << "INSERT INTO goals (id, parent_id, cycle_id, title, "
              "owner_person, owner_team, "
              "contributors, level, state, visibility, weight, progress, "
              "start_date, due_date, "
              "last_check_in_status, last_check_in_time, activate_time, "
              "revision, update_time, "
              "data) VALUES (:id, :parent, :cycle, :title, :op, :ot, :contrib, "
              ":level, :state, "
              ":vis, :weight, :progress, :sd, :dd, :status, :last, :act, :rev, "
              ":ut, :data)",
          soci::use(g.id), soci::use(g.parent_id), soci::use(g.cycle_id),
          soci::use(g.title), soci::use(g.owner.person_id),
          soci::use(g.owner.team_id), soci::use(contributors), soci::use(level),
          soci::use(state), soci::use(visibility), soci::use(g.weight),
          soci::use(g.progress), soci::use(g.start_date), soci::use(g.due_date),
          soci::use(status), soci::use(last), soci::use(activate),
          soci::use(rev), soci::use(updated), soci::use(data);
    } else if (auto it = stored_.find(g.id);
               it != stored_.end() && it->second.SameIndexes(g)) {
      // Only what no index covers changed (a check-in, a roll-up step): the
      // indexes are left alone.
      sql_ << "UPDATE goals SET title = :title, contributors = :contrib, "
              "level = :level, visibility = :vis, weight = :weight, "
              "progress = :progress, start_date = :sd, due_date = :dd, "
              "last_check_in_status = :status, last_check_in_time = :last, "
              "activate_time = :act, revision = :rev, update_time = :ut, "
              "data = :data WHERE id = :id",
          soci::use(g.title), soci::use(contributors), soci::use(level),
          soci::use(visibility), soci::use(g.weight), soci::use(g.progress),
          soci::use(g.start_date), soci::use(g.due_date), soci::use(status),
          soci::use(last), soci::use(activate), soci::use(rev),
          soci::use(updated), soci::use(data), soci::use(g.id);
    } else {
      sql_ << "UPDATE goals SET parent_id = :parent, cycle_id = :cycle, title "
              "= :title, "
              "owner_person = :op, owner_team = :ot, contributors = :contrib, "
              "level = :level, "
              "state = :state, visibility = :vis, weight = :weight, progress = "
              ":progress, "
              "start_date = :sd, due_date = :dd, last_check_in_status = "
              ":status, "
              "last_check_in_time = :last, activate_time = :act, revision = "
              ":rev, "
              "update_time = :ut, data = :data WHERE id = :id",
          soci::use(g.parent_id), soci::use(g.cycle_id), soci::use(g.title),
          soci::use(g.owner.person_id), soci::use(g.owner.team_id),
          soci::use(contributors), soci::use(level), soci::use(state),
          soci::use(visibility), soci::use(g.weight), soci::use(g.progress),
          soci::use(g.start_date), soci::use(g.due_date), soci::use(status),
          soci::use(last), soci::use(activate), soci::use(rev),
          soci::use(updated), soci::use(data), soci::use(g.id);
    }
    auto before = stored_.find(g.id);
    const bool same_contributors =
        insert || (before != stored_.end() &&
                   before->second.contributor_ids == g.contributor_ids);
    if (!insert && !same_contributors) {
      sql_ << "DELETE FROM goal_contributors WHERE goal_id = :id",
          soci::use(g.id);
    }
    stored_[g.id] = Indexed::Of(g);
    if ((insert || !same_contributors) && !g.contributor_ids.empty()) {
      std::vector<std::string> ids(g.contributor_ids.size(), g.id);
      std::vector<std::string> people = g.contributor_ids;
      sql_ << "INSERT INTO goal_contributors (goal_id, person_id) VALUES (:g, "
              ":p)",
          soci::use(ids), soci::use(people);
    }
    tx_.Emit({kGoalEntity, absl::StrCat("goals/", g.id), insert ? 1 : 2,
              Encode(g), g.id});
    touched_.insert(g.id);
    return absl::OkStatus();
  }

  absl::Status DeleteGoal(const Goal& g) override {
    stored_.erase(g.id);
    sql_ << "DELETE FROM goal_contributors WHERE goal_id = :id",
        soci::use(g.id);
    sql_ << "DELETE FROM key_results WHERE goal_id = :id", soci::use(g.id);
    sql_ << "DELETE FROM key_result_kpis WHERE goal_id = :id", soci::use(g.id);
    sql_ << "DELETE FROM goals WHERE id = :id", soci::use(g.id);
    tx_.Emit({kGoalEntity, absl::StrCat("goals/", g.id), 3, Encode(g), g.id});
    touched_.insert(g.id);
    return absl::OkStatus();
  }

  absl::Status PutKeyResult(const KeyResult& k, bool insert) override {
    std::string data = B64(Encode(k));
    long long created = k.create_time;
    if (insert) {
      sql_ << "INSERT INTO key_results (id, goal_id, create_time, data) VALUES "
              "(:id, :g, :t, "
              ":data)",
          soci::use(k.id), soci::use(k.goal_id), soci::use(created),
          soci::use(data);
    } else {
      sql_ << "UPDATE key_results SET data = :data WHERE id = :id",
          soci::use(data), soci::use(k.id);
    }
    // The KPI index changes only when the link does (not on a check-in).
    auto known = linked_.find(k.id);
    if (insert || known == linked_.end() || known->second != k.kpi) {
      if (!insert) {
        sql_ << "DELETE FROM key_result_kpis WHERE key_result_id = :id",
            soci::use(k.id);
      }
      if (!k.kpi.empty()) {
        sql_ << "INSERT INTO key_result_kpis (key_result_id, goal_id, kpi) "
                "VALUES (:id, :g, :kpi)",
            soci::use(k.id), soci::use(k.goal_id), soci::use(k.kpi);
      }
      linked_[k.id] = k.kpi;
    }
    tx_.Emit({kKeyResultEntity,
              absl::StrCat("goals/", k.goal_id, "/keyResults/", k.id),
              insert ? 1 : 2, Encode(k), k.goal_id});
    touched_.insert(k.goal_id);
    return absl::OkStatus();
  }

  absl::Status DeleteKeyResult(const KeyResult& k) override {
    sql_ << "DELETE FROM key_results WHERE id = :id", soci::use(k.id);
    sql_ << "DELETE FROM key_result_kpis WHERE key_result_id = :id",
        soci::use(k.id);
    linked_.erase(k.id);
    tx_.Emit({kKeyResultEntity,
              absl::StrCat("goals/", k.goal_id, "/keyResults/", k.id), 3,
              Encode(k), k.goal_id});
    touched_.insert(k.goal_id);
    return absl::OkStatus();
  }

  absl::Status InsertCheckIn(const CheckIn& c) override {
    std::string data = B64(Encode(c));
    long long t = c.create_time;
    sql_ << "INSERT INTO check_ins (id, goal_id, create_time, data) VALUES "
            "(:id, :g, :t, :data)",
        soci::use(c.id), soci::use(c.goal_id), soci::use(t), soci::use(data);
    tx_.Emit({kCheckInEntity,
              absl::StrCat("goals/", c.goal_id, "/checkIns/", c.id), 1,
              Encode(c), c.goal_id});
    touched_.insert(c.goal_id);
    return absl::OkStatus();
  }

  absl::Status InsertRevision(const Revision& r,
                              const Snapshot& after) override {
    store::RevisionRecord rec;
    rec.set_goal_id(r.goal_id);
    rec.set_revision(r.revision);
    rec.set_actor(r.actor);
    rec.set_time(r.time);
    rec.set_reason(r.reason);
    rec.set_target(r.target);
    rec.set_action(r.action);
    for (const auto& c : r.changes) {
      auto* cr = rec.add_changes();
      cr->set_field(c.field);
      cr->set_old_value(c.old_value);
      cr->set_new_value(c.new_value);
    }
    ToRecord(after.goal, rec.mutable_goal());
    for (const auto& k : after.key_results) ToRecord(k, rec.add_key_results());
    std::string data = B64(rec.SerializeAsString());
    long long rev = r.revision, t = r.time;
    sql_ << "INSERT INTO goal_revisions (goal_id, revision, time, data) VALUES "
            "(:g, :r, :t, "
            ":data)",
        soci::use(r.goal_id), soci::use(rev), soci::use(t), soci::use(data);
    return absl::OkStatus();
  }

  absl::Status RecordProgress(const std::string& goal_id, int64_t time,
                              double progress) override {
    long long t = time;
    sql_ << (tx_.dialect() == storage::Dialect::kSqlite
                 ? "INSERT OR REPLACE INTO goal_progress (goal_id, time, "
                   "progress) VALUES (:g, :t, :p)"
                 : "INSERT INTO goal_progress (goal_id, time, progress) "
                   "VALUES (:g, :t, :p)"),
        soci::use(goal_id), soci::use(t), soci::use(progress);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string& scope, const std::string& request_id,
      const std::string& fingerprint) override {
    auto found =
        storage::LookupIdempotent(sql_, scope, request_id, fingerprint);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return std::optional<std::string>();
    return std::optional<std::string>(**found);
  }

  absl::Status RecordIdempotent(const std::string& scope,
                                const std::string& request_id,
                                const std::string& fingerprint,
                                const std::string& response) override {
    return storage::RecordIdempotent(tx_, scope, request_id, fingerprint,
                                     response);
  }

  absl::Status PutKpiResumeToken(const std::string& token) override {
    sql_ << "UPDATE kpi_follower SET resume_token = :t WHERE id = 1",
        soci::use(token);
    return absl::OkStatus();
  }

  const std::set<std::string>& touched() const override { return touched_; }

 private:
  // The goal's ids from its root down to the goal itself (empty if the goal
  // does not exist).
  std::vector<std::string> PathFromRoot(const std::string& goal_id) {
    std::vector<std::string> path;
    std::string id;
    soci::statement st =
        (sql_.prepare << "WITH RECURSIVE up (id, parent_id, depth) AS ("
                         "SELECT id, parent_id, 0 FROM goals WHERE id = :g "
                         "UNION ALL SELECT g.id, g.parent_id, up.depth + 1 "
                         "FROM goals g JOIN up ON g.id = up.parent_id "
                         "WHERE up.depth < 64) "
                         "SELECT id FROM up ORDER BY depth DESC",
         soci::use(goal_id), soci::into(id));
    st.execute();
    while (st.fetch()) path.push_back(id);
    return path;
  }

  storage::Tx& tx_;
  soci::session& sql_;
  std::set<std::string> touched_;
  // What the goals table and its indexes hold for goals this transaction
  // read or wrote: a write that changes none of the indexed columns (or the
  // contributors) leaves those alone.
  struct Indexed {
    std::string parent_id, cycle_id, owner_person, owner_team;
    GoalState state = GoalState::kDraft;
    std::vector<std::string> contributor_ids;
    static Indexed Of(const Goal& g) {
      return {g.parent_id,     g.cycle_id, g.owner.person_id,
              g.owner.team_id, g.state,    g.contributor_ids};
    }
    bool SameIndexes(const Goal& g) const {
      return parent_id == g.parent_id && cycle_id == g.cycle_id &&
             owner_person == g.owner.person_id &&
             owner_team == g.owner.team_id && state == g.state;
    }
  };
  absl::flat_hash_map<std::string, Indexed> stored_;
  // The KPI each key result this transaction read or wrote is linked to.
  absl::flat_hash_map<std::string, std::string> linked_;
};

}  // namespace

absl::StatusOr<std::vector<KpiLink>> SqlGoalRepository::KeyResultsLinkedTo(
    const std::string& kpi) {
  std::vector<KpiLink> out;
  auto st = db_->Read("goals.kpi_links", [&](soci::session& sql) {
    std::string kr, goal;
    soci::statement q =
        (sql.prepare << "SELECT key_result_id, goal_id FROM key_result_kpis "
                        "WHERE kpi = :k ORDER BY key_result_id",
         soci::use(kpi), soci::into(kr), soci::into(goal));
    q.execute();
    while (q.fetch()) out.push_back({goal, kr});
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, KpiLink>>>
SqlGoalRepository::AllKpiLinks() {
  std::vector<std::pair<std::string, KpiLink>> out;
  auto st = db_->Read("goals.kpi_links", [&](soci::session& sql) {
    std::string kpi, kr, goal;
    soci::statement q =
        (sql.prepare << "SELECT kpi, key_result_id, goal_id FROM "
                        "key_result_kpis ORDER BY kpi, key_result_id",
         soci::into(kpi), soci::into(kr), soci::into(goal));
    q.execute();
    while (q.fetch()) out.push_back({kpi, {goal, kr}});
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::string> SqlGoalRepository::KpiResumeToken() {
  std::string token;
  auto st = db_->Read("goals.kpi_token", [&](soci::session& sql) {
    soci::indicator ind = soci::i_null;
    sql << "SELECT resume_token FROM kpi_follower WHERE id = 1",
        soci::into(token, ind);
    if (!sql.got_data()) return absl::InternalError("kpi_follower has no row");
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return token;
}

absl::Status SqlGoalRepository::IndexKpiLinks() {
  return db_->Write("goals.index_kpi_links", [&](storage::Tx& tx) {
    soci::session& sql = tx.sql();
    int indexed = 0;
    sql << "SELECT links_indexed FROM kpi_follower WHERE id = 1",
        soci::into(indexed);
    if (indexed != 0) return absl::OkStatus();
    std::vector<std::string> data;
    std::string d;
    soci::statement q =
        (sql.prepare << "SELECT data FROM key_results ORDER BY id",
         soci::into(d));
    q.execute();
    while (q.fetch()) data.push_back(d);
    std::vector<KeyResult> krs;
    if (auto s = DecodeAll<KeyResult>(data, "key result", &krs); !s.ok())
      return s;
    for (const auto& k : krs) {
      if (k.kpi.empty()) continue;
      sql << "INSERT INTO key_result_kpis (key_result_id, goal_id, kpi) "
             "VALUES (:id, :g, :kpi)",
          soci::use(k.id), soci::use(k.goal_id), soci::use(k.kpi);
    }
    sql << "UPDATE kpi_follower SET links_indexed = 1 WHERE id = 1";
    return absl::OkStatus();
  });
}

absl::Status SqlGoalRepository::Write(
    absl::string_view op, const std::function<absl::Status(GoalTx&)>& fn,
    int64_t* last_seq) {
  return db_->Write(
      op,
      [&](storage::Tx& tx) {
        SqlGoalTx gtx(tx);
        return fn(gtx);
      },
      last_seq);
}

absl::Status SqlGoalRepository::WriteWithRowLocks(
    absl::string_view op, const std::function<absl::Status(GoalTx&)>& fn) {
  return db_->Write(
      op,
      [&](storage::Tx& tx) {
        SqlGoalTx gtx(tx);
        return fn(gtx);
      },
      nullptr, storage::Isolation::kReadCommitted);
}

}  // namespace sightline::goals
