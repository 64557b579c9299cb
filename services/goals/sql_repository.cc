#include "services/goals/sql_repository.h"

#include <soci/soci.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/storage/change_log.h"
#include "lib/storage/idempotency.h"

namespace sightline::goals {
namespace {

constexpr char kRowColumns[] =
    "id, parent_id, cycle_id, title, owner_person, owner_team, contributors, "
    "level, state, "
    "visibility, weight, progress, start_date, due_date, last_check_in_status, "
    "last_check_in_time, activate_time";
constexpr size_t kInChunk = 400;

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored ", what, " does not decode"));
}

std::string B64(const std::string& bytes) { return absl::Base64Escape(bytes); }

// Column buffers for one GoalRow, bound once to a statement.
struct RowBuffer {
  GoalRow r;
  std::string contributors;
  int level = 0, state = 0, visibility = 0, status = 0;
  long long last_time = 0, activate = 0;
  void Bind(soci::statement& st) {
    st.exchange(soci::into(r.id));
    st.exchange(soci::into(r.parent_id));
    st.exchange(soci::into(r.cycle_id));
    st.exchange(soci::into(r.title));
    st.exchange(soci::into(r.owner.person_id));
    st.exchange(soci::into(r.owner.team_id));
    st.exchange(soci::into(contributors));
    st.exchange(soci::into(level));
    st.exchange(soci::into(state));
    st.exchange(soci::into(visibility));
    st.exchange(soci::into(r.weight));
    st.exchange(soci::into(r.progress));
    st.exchange(soci::into(r.start_date));
    st.exchange(soci::into(r.due_date));
    st.exchange(soci::into(status));
    st.exchange(soci::into(last_time));
    st.exchange(soci::into(activate));
  }
  GoalRow Take() {
    GoalRow out = r;
    out.contributor_ids =
        contributors.empty()
            ? std::vector<std::string>{}
            : std::vector<std::string>(absl::StrSplit(contributors, ','));
    out.level = static_cast<Level>(level);
    out.state = static_cast<GoalState>(state);
    out.visibility = static_cast<Visibility>(visibility);
    out.last_check_in_status = static_cast<Health>(status);
    out.last_check_in_time = last_time;
    out.activate_time = activate;
    return out;
  }
};

// Runs a query returning GoalRows; `bind` adds the statement's inputs.
template <typename BindFn>
void QueryRows(soci::session& sql, const std::string& query, BindFn bind,
               std::vector<GoalRow>* out) {
  RowBuffer row;
  soci::statement st(sql);
  row.Bind(st);
  bind(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute(false);
  while (st.fetch()) out->push_back(row.Take());
}

// "(:p0, :p1, ...)" for `n` values.
std::string Placeholders(size_t n) {
  std::string out = "(";
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i ? ", " : "", ":p", i);
  out.push_back(')');
  return out;
}

// Runs `query_for(placeholders)` over `values` in chunks.
template <typename QueryFor>
void QueryRowsIn(soci::session& sql, const std::vector<std::string>& values,
                 QueryFor query_for, std::vector<GoalRow>* out) {
  for (size_t start = 0; start < values.size(); start += kInChunk) {
    size_t n = std::min(kInChunk, values.size() - start);
    std::vector<std::string> chunk(values.begin() + start,
                                   values.begin() + start + n);
    QueryRows(
        sql, query_for(Placeholders(n)),
        [&](soci::statement& st) {
          for (auto& v : chunk) st.exchange(soci::use(v));
        },
        out);
  }
}

// Decodes a column of base64-encoded records.
template <typename Model>
absl::Status DecodeAll(const std::vector<std::string>& data,
                       absl::string_view what, std::vector<Model>* out) {
  for (const auto& d : data) {
    std::string bytes;
    Model m;
    if (!absl::Base64Unescape(d, &bytes) || !Decode(bytes, &m))
      return Corrupt(what);
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::Status ReadRevision(const std::string& data, Revision* out,
                          Snapshot* snapshot) {
  std::string bytes;
  store::RevisionRecord r;
  if (!absl::Base64Unescape(data, &bytes) || !r.ParseFromString(bytes)) {
    return Corrupt("revision");
  }
  out->goal_id = r.goal_id();
  out->revision = r.revision();
  out->actor = r.actor();
  out->time = r.time();
  out->reason = r.reason();
  out->target = r.target();
  out->action = r.action();
  out->changes.clear();
  for (const auto& c : r.changes())
    out->changes.push_back({c.field(), c.old_value(), c.new_value()});
  if (snapshot != nullptr) {
    FromRecord(r.goal(), &snapshot->goal);
    snapshot->key_results.clear();
    for (const auto& k : r.key_results()) {
      KeyResult kr;
      FromRecord(k, &kr);
      snapshot->key_results.push_back(std::move(kr));
    }
  }
  return absl::OkStatus();
}

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
    tx_.Emit({kKeyResultEntity,
              absl::StrCat("goals/", k.goal_id, "/keyResults/", k.id),
              insert ? 1 : 2, Encode(k), k.goal_id});
    touched_.insert(k.goal_id);
    return absl::OkStatus();
  }

  absl::Status DeleteKeyResult(const KeyResult& k) override {
    sql_ << "DELETE FROM key_results WHERE id = :id", soci::use(k.id);
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

  const std::set<std::string>& touched() const override { return touched_; }

 private:
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
};

}  // namespace

const std::vector<storage::Migration>& GoalsMigrations() {
  static const auto* m = new std::vector<storage::Migration>{
      {1, "cycles, goals, key results, check-ins, history", R"sql(
CREATE TABLE cycles (
  id TEXT PRIMARY KEY,
  state INTEGER NOT NULL,
  start_date TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE goals (
  id TEXT PRIMARY KEY,
  parent_id TEXT NOT NULL,
  cycle_id TEXT NOT NULL,
  title TEXT NOT NULL,
  owner_person TEXT NOT NULL,
  owner_team TEXT NOT NULL,
  contributors TEXT NOT NULL,
  level INTEGER NOT NULL,
  state INTEGER NOT NULL,
  visibility INTEGER NOT NULL,
  weight DOUBLE PRECISION NOT NULL,
  progress DOUBLE PRECISION NOT NULL,
  start_date TEXT NOT NULL,
  due_date TEXT NOT NULL,
  last_check_in_status INTEGER NOT NULL,
  last_check_in_time BIGINT NOT NULL,
  activate_time BIGINT NOT NULL,
  revision BIGINT NOT NULL,
  update_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX goals_cycle ON goals (cycle_id, id);
CREATE INDEX goals_parent ON goals (parent_id, id);
CREATE INDEX goals_owner_person ON goals (owner_person, id);
CREATE INDEX goals_owner_team ON goals (owner_team, id);
CREATE INDEX goals_state ON goals (state, id);
CREATE TABLE goal_contributors (
  goal_id TEXT NOT NULL,
  person_id TEXT NOT NULL,
  PRIMARY KEY (goal_id, person_id)
);
CREATE INDEX goal_contributors_person ON goal_contributors (person_id, goal_id);
CREATE TABLE key_results (
  id TEXT PRIMARY KEY,
  goal_id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX key_results_goal ON key_results (goal_id, create_time, id);
CREATE TABLE check_ins (
  id TEXT PRIMARY KEY,
  goal_id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX check_ins_goal ON check_ins (goal_id, create_time, id);
CREATE TABLE goal_revisions (
  goal_id TEXT NOT NULL,
  revision BIGINT NOT NULL,
  time BIGINT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (goal_id, revision)
);
CREATE INDEX goal_revisions_time ON goal_revisions (goal_id, time);
CREATE TABLE goal_progress (
  goal_id TEXT NOT NULL,
  time BIGINT NOT NULL,
  progress DOUBLE PRECISION NOT NULL
);
CREATE INDEX goal_progress_time ON goal_progress (goal_id, time);
)sql",
       ""},
      // SQLite: a progress point is its key, (goal, time), so the table is
      // that key's b-tree alone: a check-in writes one page of it per goal
      // on the roll-up chain instead of that plus the table's last page.
      // Two points of one goal at one time (a move under two parents in one
      // write) keep the later. PostgreSQL keeps its table and index.
      {2, "SQLite: progress points keyed by goal and time", R"sql(
CREATE TABLE goal_progress_keyed (
  goal_id TEXT NOT NULL,
  time BIGINT NOT NULL,
  progress DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (goal_id, time)
) WITHOUT ROWID;
INSERT OR REPLACE INTO goal_progress_keyed (goal_id, time, progress)
  SELECT goal_id, time, progress FROM goal_progress ORDER BY rowid;
DROP TABLE goal_progress;
ALTER TABLE goal_progress_keyed RENAME TO goal_progress;
)sql",
       "SELECT 1"},
  };
  return *m;
}

std::vector<std::pair<std::string, std::string>> GoalsWritePath() {
  return {{"cycles", ""},
          {"goals", ""},
          {"goals", "sqlite_autoindex_goals_1"},
          {"key_results", ""},
          {"key_results", "sqlite_autoindex_key_results_1"},
          {"key_results", "key_results_goal"},
          {"idempotency", "sqlite_autoindex_idempotency_1"},
          {"check_ins", "sqlite_autoindex_check_ins_1"},
          {"check_ins", "check_ins_goal"},
          {"goal_revisions", "sqlite_autoindex_goal_revisions_1"},
          {"goal_revisions", "goal_revisions_time"},
          {"goal_progress", ""}};
}

absl::StatusOr<Cycle> SqlGoalRepository::GetCycle(const std::string& id) {
  std::vector<Cycle> out;
  auto st = db_->Read("cycles.get", [&](soci::session& sql) {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql << "SELECT data FROM cycles WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql.got_data() || ind == soci::i_null) return absl::OkStatus();
    return DecodeAll<Cycle>({data}, "cycle", &out);
  });
  if (!st.ok()) return st;
  if (out.empty())
    return absl::NotFoundError(absl::StrCat("cycles/", id, " does not exist"));
  return out[0];
}

absl::StatusOr<std::vector<Cycle>> SqlGoalRepository::ListCycles(
    int state, const Page& page) {
  std::vector<Cycle> out;
  auto st = db_->Read("cycles.list", [&](soci::session& sql) {
    std::vector<std::string> data;
    std::string d;
    int limit = page.limit;
    std::string q = "SELECT data FROM cycles WHERE id > :after";
    if (state != 0) absl::StrAppend(&q, " AND state = :state");
    absl::StrAppend(&q, " ORDER BY id LIMIT :lim");
    soci::statement s(sql);
    s.exchange(soci::into(d));
    s.exchange(soci::use(page.after));
    if (state != 0) s.exchange(soci::use(state));
    s.exchange(soci::use(limit));
    s.alloc();
    s.prepare(q);
    s.define_and_bind();
    s.execute(false);
    while (s.fetch()) data.push_back(d);
    return DecodeAll<Cycle>(data, "cycle", &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<Goal> SqlGoalRepository::GetGoal(const std::string& id) {
  std::vector<Goal> out;
  auto st = db_->Read("goals.get", [&](soci::session& sql) {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql << "SELECT data FROM goals WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql.got_data() || ind == soci::i_null) return absl::OkStatus();
    return DecodeAll<Goal>({data}, "goal", &out);
  });
  if (!st.ok()) return st;
  if (out.empty())
    return absl::NotFoundError(absl::StrCat("goals/", id, " does not exist"));
  return out[0];
}

absl::StatusOr<std::vector<Goal>> SqlGoalRepository::ListGoals(
    const GoalQuery& q, const Page& page) {
  std::vector<Goal> out;
  auto st = db_->Read("goals.list", [&](soci::session& sql) {
    std::string query = "SELECT data FROM goals WHERE id > :after";
    if (!q.owner_person_id.empty())
      absl::StrAppend(&query, " AND owner_person = :op");
    if (!q.owner_team_id.empty() && q.owner_person_in.empty()) {
      absl::StrAppend(&query, " AND owner_team = :ot");
    }
    if (!q.owner_person_in.empty()) {
      absl::StrAppend(&query, " AND (owner_team = :ot OR owner_person IN ",
                      Placeholders(q.owner_person_in.size()), ")");
    }
    if (!q.cycle_id.empty()) absl::StrAppend(&query, " AND cycle_id = :cycle");
    if (!q.parent_id.empty())
      absl::StrAppend(&query, " AND parent_id = :parent");
    if (q.top_level) absl::StrAppend(&query, " AND parent_id = ''");
    if (q.state != 0) absl::StrAppend(&query, " AND state = :state");
    absl::StrAppend(&query, " ORDER BY id LIMIT :lim");
    std::string d;
    std::vector<std::string> data;
    int state = q.state, limit = page.limit;
    std::vector<std::string> in = q.owner_person_in;
    std::string team = q.owner_team_id;
    soci::statement s(sql);
    s.exchange(soci::into(d));
    s.exchange(soci::use(page.after));
    if (!q.owner_person_id.empty()) s.exchange(soci::use(q.owner_person_id));
    if (!q.owner_team_id.empty() || !in.empty()) s.exchange(soci::use(team));
    for (auto& v : in) s.exchange(soci::use(v));
    if (!q.cycle_id.empty()) s.exchange(soci::use(q.cycle_id));
    if (!q.parent_id.empty()) s.exchange(soci::use(q.parent_id));
    if (q.state != 0) s.exchange(soci::use(state));
    s.exchange(soci::use(limit));
    s.alloc();
    s.prepare(query);
    s.define_and_bind();
    s.execute(false);
    while (s.fetch()) data.push_back(d);
    return DecodeAll<Goal>(data, "goal", &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<KeyResult>> SqlGoalRepository::ListKeyResults(
    const std::string& goal_id) {
  std::vector<KeyResult> out;
  auto st = db_->Read("key_results.list", [&](soci::session& sql) {
    std::vector<std::string> data;
    std::string d;
    soci::statement s =
        (sql.prepare << "SELECT data FROM key_results WHERE goal_id = :g "
                        "ORDER BY create_time, id",
         soci::use(goal_id), soci::into(d));
    s.execute();
    while (s.fetch()) data.push_back(d);
    return DecodeAll<KeyResult>(data, "key result", &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<CheckIn> SqlGoalRepository::GetCheckIn(const std::string& id) {
  std::vector<CheckIn> out;
  auto st = db_->Read("check_ins.get", [&](soci::session& sql) {
    std::string data;
    soci::indicator ind = soci::i_null;
    sql << "SELECT data FROM check_ins WHERE id = :id", soci::use(id),
        soci::into(data, ind);
    if (!sql.got_data() || ind == soci::i_null) return absl::OkStatus();
    return DecodeAll<CheckIn>({data}, "check-in", &out);
  });
  if (!st.ok()) return st;
  if (out.empty()) return absl::NotFoundError("that check-in does not exist");
  return out[0];
}

absl::StatusOr<std::optional<std::string>> SqlGoalRepository::FindIdempotent(
    const std::string& scope, const std::string& request_id,
    const std::string& fingerprint) {
  std::optional<std::string> out;
  auto st =
      db_->Read("idempotency.find", [&](soci::session& sql) -> absl::Status {
        auto found =
            storage::LookupIdempotent(sql, scope, request_id, fingerprint);
        if (!found.ok()) return found.status();
        if (found->has_value()) out = **found;
        return absl::OkStatus();
      });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<CheckIn>> SqlGoalRepository::ListCheckIns(
    const std::string& goal_id, const Page& page) {
  std::vector<CheckIn> out;
  auto st = db_->Read("check_ins.list", [&](soci::session& sql) {
    long long before_time = INT64_MAX;
    std::string before_id = "\x7f";
    if (!page.after.empty()) {
      std::vector<std::string> parts =
          absl::StrSplit(page.after, absl::MaxSplits('/', 1));
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &before_time)) {
        return absl::InvalidArgumentError("page_token: malformed");
      }
      before_id = parts[1];
    }
    int limit = page.limit;
    std::vector<std::string> data;
    std::string d;
    soci::statement s =
        (sql.prepare << "SELECT data FROM check_ins WHERE goal_id = :g AND "
                        "(create_time < :t "
                        "OR (create_time = :t2 AND id < :id)) ORDER BY "
                        "create_time DESC, id "
                        "DESC LIMIT :lim",
         soci::use(goal_id), soci::use(before_time), soci::use(before_time),
         soci::use(before_id), soci::use(limit), soci::into(d));
    s.execute();
    while (s.fetch()) data.push_back(d);
    return DecodeAll<CheckIn>(data, "check-in", &out);
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<Revision>> SqlGoalRepository::ListRevisions(
    const std::string& goal_id, const Page& page) {
  std::vector<Revision> out;
  auto st = db_->Read("revisions.list", [&](soci::session& sql) {
    long long after = 0;
    if (!page.after.empty() && !absl::SimpleAtoi(page.after, &after)) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
    int limit = page.limit;
    std::string d;
    soci::statement s =
        (sql.prepare
             << "SELECT data FROM goal_revisions WHERE goal_id = :g AND "
                "revision > :r ORDER BY revision LIMIT :lim",
         soci::use(goal_id), soci::use(after), soci::use(limit), soci::into(d));
    s.execute();
    while (s.fetch()) {
      Revision r;
      if (auto st = ReadRevision(d, &r, nullptr); !st.ok()) return st;
      out.push_back(std::move(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::optional<Snapshot>> SqlGoalRepository::SnapshotAt(
    const std::string& goal_id, int64_t time) {
  std::optional<Snapshot> out;
  auto st = db_->Read("revisions.as_of", [&](soci::session& sql) {
    long long t = time;
    std::string d;
    soci::indicator ind = soci::i_null;
    sql << "SELECT data FROM goal_revisions WHERE goal_id = :g AND time <= :t "
           "ORDER BY "
           "revision DESC LIMIT 1",
        soci::use(goal_id), soci::use(t), soci::into(d, ind);
    if (!sql.got_data() || ind == soci::i_null) return absl::OkStatus();
    Snapshot snap;
    Revision r;
    if (auto s = ReadRevision(d, &r, &snap); !s.ok()) return s;
    // Progress then, including moves by roll-up that made no revision.
    double progress = 0;
    soci::indicator pind = soci::i_null;
    sql << "SELECT progress FROM goal_progress WHERE goal_id = :g AND time <= "
           ":t ORDER BY "
           "time DESC LIMIT 1",
        soci::use(goal_id), soci::use(t), soci::into(progress, pind);
    if (sql.got_data() && pind == soci::i_ok) snap.goal.progress = progress;
    out = std::move(snap);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<GoalRow>> SqlGoalRepository::RowsOfCycle(
    const std::string& cycle_id) {
  std::vector<GoalRow> out;
  auto st = db_->Read("goals.rows_of_cycle", [&](soci::session& sql) {
    QueryRows(
        sql,
        absl::StrCat("SELECT ", kRowColumns, " FROM goals WHERE cycle_id = :c"),
        [&](soci::statement& s) { s.exchange(soci::use(cycle_id)); }, &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<GoalRow>> SqlGoalRepository::ChildRows(
    const std::vector<std::string>& parent_ids) {
  std::vector<GoalRow> out;
  auto st = db_->Read("goals.child_rows", [&](soci::session& sql) {
    QueryRowsIn(
        sql, parent_ids,
        [](const std::string& in) {
          return absl::StrCat("SELECT ", kRowColumns,
                              " FROM goals WHERE parent_id IN ", in);
        },
        &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<GoalRow>> SqlGoalRepository::Rows(
    const std::vector<std::string>& ids) {
  std::vector<GoalRow> out;
  auto st = db_->Read("goals.rows", [&](soci::session& sql) {
    QueryRowsIn(
        sql, ids,
        [](const std::string& in) {
          return absl::StrCat("SELECT ", kRowColumns,
                              " FROM goals WHERE id IN ", in);
        },
        &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<GoalRow>> SqlGoalRepository::RowsOfPeople(
    const std::vector<std::string>& person_ids) {
  std::vector<GoalRow> out;
  auto st = db_->Read("goals.rows_of_people", [&](soci::session& sql) {
    QueryRowsIn(
        sql, person_ids,
        [](const std::string& in) {
          return absl::StrCat("SELECT ", kRowColumns,
                              " FROM goals WHERE owner_person IN ", in);
        },
        &out);
    std::vector<GoalRow> contributed;
    QueryRowsIn(
        sql, person_ids,
        [](const std::string& in) {
          return absl::StrCat(
              "SELECT ", kRowColumns,
              " FROM goals WHERE id IN (SELECT goal_id FROM goal_contributors "
              "WHERE person_id IN ",
              in, ")");
        },
        &contributed);
    std::set<std::string> seen;
    for (const auto& r : out) seen.insert(r.id);
    for (auto& r : contributed) {
      if (seen.insert(r.id).second) out.push_back(std::move(r));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<int64_t> SqlGoalRepository::ChangeHead() {
  return storage::HeadSeq(*db_);
}

absl::StatusOr<std::vector<std::string>> SqlGoalRepository::GoalsChanged(
    int64_t after_seq, int64_t upto_seq) {
  return storage::ChangedScopes(*db_, after_seq, upto_seq);
}

absl::StatusOr<std::vector<GoalRow>> SqlGoalRepository::LiveRows() {
  std::vector<GoalRow> out;
  auto st = db_->Read("goals.live_rows", [&](soci::session& sql) {
    QueryRows(
        sql,
        absl::StrCat("SELECT ", kRowColumns, " FROM goals WHERE state <> ",
                     static_cast<int>(GoalState::kArchived)),
        [](soci::statement&) {}, &out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
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

}  // namespace sightline::goals
