#include "services/goals/sql_repository.h"

#include <soci/soci.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/storage/change_log.h"
#include "lib/storage/idempotency.h"
#include "services/goals/sql_internal.h"

namespace sightline::goals {
namespace internal {

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored ", what, " does not decode"));
}

}  // namespace internal

using internal::Corrupt;
using internal::DecodeAll;

namespace {

constexpr char kRowColumns[] =
    "id, parent_id, cycle_id, title, owner_person, owner_team, contributors, "
    "level, state, "
    "visibility, weight, progress, start_date, due_date, last_check_in_status, "
    "last_check_in_time, activate_time";
constexpr size_t kInChunk = 400;

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

}  // namespace

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
      Snapshot snap;
      if (auto st = ReadRevision(d, &r, &snap); !st.ok()) return st;
      if (!snap.goal.id.empty()) r.then = std::move(snap.goal);
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

}  // namespace sightline::goals
