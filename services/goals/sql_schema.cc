// The goals schema and the pages a write touches.

#include <string>
#include <utility>
#include <vector>

#include "services/goals/sql_repository.h"

namespace sightline::goals {

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
      // Key results that follow a KPI, found by KPI; and the follower's
      // position in the metrics service's feed (one row). Links made before
      // this table existed are indexed once at start (IndexKpiLinks).
      {3, "KPI links of key results, the KPI follower's resume token", R"sql(
CREATE TABLE key_result_kpis (
  key_result_id TEXT PRIMARY KEY,
  goal_id TEXT NOT NULL,
  kpi TEXT NOT NULL
);
CREATE INDEX key_result_kpis_kpi ON key_result_kpis (kpi, key_result_id);
CREATE INDEX key_result_kpis_goal ON key_result_kpis (goal_id);
CREATE TABLE kpi_follower (
  id INTEGER PRIMARY KEY,
  resume_token TEXT NOT NULL,
  links_indexed INTEGER NOT NULL
);
INSERT INTO kpi_follower (id, resume_token, links_indexed) VALUES (1, '', 0);
)sql",
       ""},
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

}  // namespace sightline::goals
