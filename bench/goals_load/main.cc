// sightline-bench-goals-load: a goals database of a generated company, written
// straight into SQLite with the goals service's own schema and store
// (GoalsMigrations, SqlGoalRepository::Write, GoalTx), in large transactions.
// Creating 50,000 goals and 500,000 check-ins through the API would take far
// longer than the benchmark they serve.
//
// The history is the one the service would have written had every goal and
// check-in come through the API, in time order:
//   - one cycle, ACTIVE, around today;
//   - goals created top down (company goals, then each level below them),
//     each validated with the service's rules (ValidateGoal,
//     ValidateKeyResult, CheckAlignment), with its key results, its CREATE
//     revision (with the snapshot of the goal and its key results) and its
//     progress point, and the roll-up of every ancestor moved exactly as
//     GoalsService::Propagate does (ApplyChildDelta, a progress point for each
//     ancestor whose progress changed);
//   - check-ins, in time order across the company, each moving its key
//     results (ApplyKrDelta), its goal's CHECK_IN revision and progress point,
//     and the roll-up of every ancestor, as GoalsService::CreateCheckIn does;
//   - last, every goal and key result row in its final state.
// The roll-up sums are the ones the service's incremental maths produces (same
// functions, same order of operations); a final check recomputes every goal's
// sums from scratch and fails on any drift beyond 1e-9.
//
// The owners are real people of a people service (--people_target, read with
// ListPeople): the company goals belong to the top of the org, each level
// below to people one step further down, the lowest level to everyone active.
//
// Prints key=value lines (counts, the cycle, a reader, timings); writes the
// lowest-level goals, each with its owner and key results, to --leaves_out
// for the check-in benchmark.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "lib/storage/tokens.h"
#include "lib/testing/service.h"
#include "services/goals/progress.h"
#include "services/goals/rules.h"
#include "services/goals/sql_repository.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

ABSL_FLAG(std::string, db, "", "The goals SQLite database to create.");
ABSL_FLAG(std::string, people_target, "",
          "The people service (host:port) whose people own the goals.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "The people service's HS256 secret (a service token is signed).");
ABSL_FLAG(int, goals, 50000, "Goals in all.");
ABSL_FLAG(std::string, upper_levels, "5,50,500,5000",
          "Goals on each level above the lowest, from the company level down; "
          "the lowest level holds the rest.");
ABSL_FLAG(int, check_ins, 500000, "Check-ins, spread evenly over the goals.");
ABSL_FLAG(int, goals_per_tx, 10000, "Goals created per transaction.");
ABSL_FLAG(int, check_ins_per_tx, 25000, "Check-ins per transaction.");
ABSL_FLAG(uint64_t, seed, 42, "Seed of everything generated but the ids.");
ABSL_FLAG(std::string, leaves_out, "",
          "File for the lowest-level goals: `goal owner kr...` per line.");

namespace sightline::bench {
namespace {

namespace pv1 = ::sightline::people::v1;
using goals::CheckIn;
using goals::Contribution;
using goals::Cycle;
using goals::Goal;
using goals::GoalTx;
using goals::KeyResult;
using goals::Revision;
using goals::Snapshot;

constexpr int kDay = 86400;
constexpr const char* kVerbs[] = {"Grow",   "Launch",   "Reduce", "Improve",
                                  "Ship",   "Automate", "Expand", "Simplify",
                                  "Harden", "Measure"};
constexpr const char* kObjects[] = {
    "self-serve onboarding", "enterprise revenue", "incident response time",
    "checkout conversion",   "the mobile app",     "data pipeline cost",
    "partner integrations",  "support backlog",    "release cadence",
    "customer retention",    "hiring funnel",      "search relevance"};
constexpr const char* kTags[] = {"growth",  "reliability", "cost",
                                 "quality", "customers",   "platform"};

int Fail(const std::string& message) {
  std::fprintf(stderr, "sightline-bench-goals-load: %s\n", message.c_str());
  return 1;
}

absl::StatusOr<std::vector<int>> LevelCounts(int goals) {
  std::vector<int> counts;
  int upper = 0;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_upper_levels), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1) {
      return absl::InvalidArgumentError(
          "--upper_levels: positive counts, comma separated");
    }
    counts.push_back(n);
    upper += n;
  }
  if (goals - upper < 1)
    return absl::InvalidArgumentError("--goals must exceed --upper_levels");
  counts.push_back(goals - upper);
  return counts;
}

struct PersonRow {
  std::string id;
  std::string manager_id;
  bool active = true;
  bool manager = false;
  int depth = 0;  // steps below the top of the org
};

// Every person of the people service, with their depth in the manager tree.
absl::StatusOr<std::vector<PersonRow>> ReadPeople(const std::string& target,
                                                  const std::string& token) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = pv1::PeopleService::NewStub(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
  std::vector<PersonRow> people;
  std::string page_token;
  do {
    grpc::ClientContext ctx;
    sightline::testing::Authorize(&ctx, token);
    pv1::ListPeopleRequest req;
    req.set_page_size(1000);
    req.set_page_token(page_token);
    pv1::ListPeopleResponse resp;
    grpc::Status st = stub->ListPeople(&ctx, req, &resp);
    if (!st.ok())
      return absl::UnavailableError("ListPeople: " + st.error_message());
    for (const auto& p : resp.people()) {
      PersonRow r;
      r.id = std::string(absl::StripPrefix(p.name(), "people/"));
      r.manager_id = std::string(absl::StripPrefix(p.manager(), "people/"));
      r.active = p.status() != pv1::Person::TERMINATED;
      for (const auto& role : p.roles()) r.manager |= role == "manager";
      people.push_back(std::move(r));
    }
    page_token = resp.next_page_token();
  } while (!page_token.empty());
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < people.size(); ++i) index[people[i].id] = i;
  for (auto& p : people) {
    std::string up = p.manager_id;
    for (int d = 0; !up.empty() && d < 64; ++d) {
      ++p.depth;
      auto it = index.find(up);
      up = it == index.end() ? "" : people[it->second].manager_id;
    }
  }
  return people;
}

struct Node {
  Goal goal;
  std::vector<KeyResult> krs;  // in LoadKeyResults order (create_time, id)
  int parent = -1;
  int level = 0;             // 0: company
  std::vector<double> pace;  // per key result: share of the way at the end
};

struct PlannedCheckIn {
  int64_t time;
  int goal;
  int round;  // 1.. for this goal
};

class Loader {
 public:
  Loader(goals::SqlGoalRepository* repo, uint64_t seed)
      : repo_(repo), rng_(seed) {}

  absl::Status Run(const std::vector<PersonRow>& people,
                   const std::vector<int>& counts, int check_ins);
  const std::vector<Node>& nodes() const { return nodes_; }
  const Cycle& cycle() const { return cycle_; }
  int64_t revisions() const { return revisions_; }
  int64_t progress_points() const { return progress_points_; }
  int64_t roll_up_steps() const { return roll_up_steps_; }
  double seconds_goals() const { return seconds_goals_; }
  double seconds_check_ins() const { return seconds_check_ins_; }
  double seconds_rows() const { return seconds_rows_; }
  double max_drift() const { return max_drift_; }

 private:
  absl::Status Generate(const std::vector<PersonRow>& people,
                        const std::vector<int>& counts, int64_t now);
  // One transaction; `fn` must run exactly once (the in-memory state moves).
  absl::Status Tx(absl::string_view op,
                  const std::function<absl::Status(GoalTx&)>& fn);
  absl::Status Propagate(GoalTx& tx, int parent, Contribution before,
                         Contribution after, int64_t now);
  absl::Status Progress(GoalTx& tx, const Goal& g, int64_t now);
  absl::Status InsertGoal(GoalTx& tx, int i, int64_t now);
  absl::Status CheckIn(GoalTx& tx, const PlannedCheckIn& p);
  absl::Status Verify();

  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  int Below(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }

  goals::SqlGoalRepository* repo_;
  std::mt19937_64 rng_;
  Cycle cycle_;
  std::vector<Node> nodes_;
  std::vector<PlannedCheckIn> plan_;
  int rounds_ = 1;  // check-ins per goal
  int64_t revisions_ = 0, progress_points_ = 0, roll_up_steps_ = 0;
  double seconds_goals_ = 0, seconds_check_ins_ = 0, seconds_rows_ = 0;
  double max_drift_ = 0;
};

absl::Status Loader::Tx(absl::string_view op,
                        const std::function<absl::Status(GoalTx&)>& fn) {
  int runs = 0;
  return repo_->Write(
      op,
      [&](GoalTx& tx) -> absl::Status {
        if (++runs > 1) {
          return absl::InternalError(
              "a batch was retried: the in-memory state has moved on");
        }
        return fn(tx);
      },
      nullptr);
}

absl::Status Loader::Progress(GoalTx& tx, const Goal& g, int64_t now) {
  ++progress_points_;
  return tx.RecordProgress(g.id, now, g.progress);
}

// GoalsService::Propagate, on the goals held in memory: their rows are
// written once, in their final state, at the end.
absl::Status Loader::Propagate(GoalTx& tx, int parent, Contribution before,
                               Contribution after, int64_t now) {
  for (int depth = 0; parent >= 0 && !(before == after); ++depth) {
    if (depth >= 64) return absl::InternalError("alignment deeper than 64");
    Goal& p = nodes_[static_cast<size_t>(parent)].goal;
    Contribution p_before = goals::ChildContribution(p);
    double old_progress = p.progress;
    goals::ApplyChildDelta(&p, before, after);
    p.update_time = now;
    ++roll_up_steps_;
    if (p.progress != old_progress) {
      if (auto s = Progress(tx, p, now); !s.ok()) return s;
    }
    before = p_before;
    after = goals::ChildContribution(p);
    parent = nodes_[static_cast<size_t>(parent)].parent;
  }
  return absl::OkStatus();
}

// GoalsService::InsertGoal, less the checks already made in Generate.
absl::Status Loader::InsertGoal(GoalTx& tx, int i, int64_t now) {
  Node& n = nodes_[static_cast<size_t>(i)];
  Goal& g = n.goal;
  g.create_time = g.update_time = now;
  g.activate_time = now;
  g.kr_weight = g.kr_weighted = g.child_weight = g.child_weighted = 0;
  for (auto& kr : n.krs) {
    kr.id = storage::NewId();
    kr.goal_id = g.id;
    kr.revision = 1;
    kr.create_time = kr.update_time = now;
    goals::ApplyKrDelta(&g, Contribution{}, goals::KeyResultContribution(kr));
  }
  std::sort(n.krs.begin(), n.krs.end(),
            [](const KeyResult& a, const KeyResult& b) { return a.id < b.id; });
  goals::RecomputeProgress(&g);
  g.revision = 1;
  Revision r;
  r.goal_id = g.id;
  r.revision = 1;
  r.actor = absl::StrCat("people/", g.owner.person_id);
  r.time = now;
  r.target = absl::StrCat("goals/", g.id);
  r.action = "CREATE";
  r.changes = goals::DiffGoals(Goal{}, g);
  if (auto s = tx.InsertRevision(r, Snapshot{g, n.krs}); !s.ok()) return s;
  ++revisions_;
  if (auto s = Progress(tx, g, now); !s.ok()) return s;
  return Propagate(tx, n.parent, Contribution{}, goals::ChildContribution(g),
                   now);
}

// The transaction of GoalsService::CreateCheckIn, by the goal's owner.
absl::Status Loader::CheckIn(GoalTx& tx, const PlannedCheckIn& p) {
  Node& n = nodes_[static_cast<size_t>(p.goal)];
  const int64_t now = p.time;
  goals::CheckIn c;
  c.id = storage::NewId();
  c.goal_id = n.goal.id;
  c.author_id = n.goal.owner.person_id;
  const double share = std::clamp(
      static_cast<double>(p.round) / rounds_ + Uniform(-0.04, 0.04), 0.0, 1.2);
  for (size_t k = 0; k < n.krs.size(); ++k) {
    // The second key result is reported on two check-ins out of three.
    if (k > 0 && p.round % 3 == 0) continue;
    const KeyResult& kr = n.krs[k];
    double value =
        std::round(kr.baseline + (kr.target - kr.baseline) * n.pace[k] * share);
    c.values.push_back({kr.id, value});
  }
  c.confidence = std::round(Uniform(0.3, 1.0) * 100) / 100;
  const int mood = Below(20);
  c.status = mood == 0  ? goals::Health::kOffTrack
             : mood < 4 ? goals::Health::kAtRisk
                        : goals::Health::kOnTrack;
  c.note = absl::StrCat(
      "Week ", p.round, ": ",
      mood < 4 ? "blocked on a dependency, replanning" : "moving as planned");

  const Goal fresh = n.goal;
  Goal next = fresh;
  std::vector<goals::FieldChange> changes;
  for (const auto& v : c.values) {
    auto it = std::find_if(n.krs.begin(), n.krs.end(), [&](const KeyResult& k) {
      return k.id == v.key_result_id;
    });
    if (it == n.krs.end()) return absl::InternalError("unknown key result");
    KeyResult after = *it;
    after.current = v.value;
    if (after.current == it->current) continue;
    changes.push_back({absl::StrCat("keyResults/", it->id, ".current"),
                       absl::StrFormat("%g", it->current),
                       absl::StrFormat("%g", after.current)});
    after.revision += 1;
    after.update_time = now;
    goals::ApplyKrDelta(&next, goals::KeyResultContribution(*it),
                        goals::KeyResultContribution(after));
    *it = after;
  }
  if (c.status != goals::Health::kUnspecified)
    next.last_check_in_status = c.status;
  next.last_check_in_time = now;
  c.create_time = now;
  c.progress = next.progress;
  if (auto s = tx.InsertCheckIn(c); !s.ok()) return s;
  // MoveContribution: the parent stays the same.
  if (auto s = Propagate(tx, n.parent, goals::ChildContribution(fresh),
                         goals::ChildContribution(next), now);
      !s.ok()) {
    return s;
  }
  // Record: a revision with the goal and its key results, a progress point.
  next.revision += 1;
  next.update_time = now;
  n.goal = next;
  Revision r;
  r.goal_id = next.id;
  r.revision = next.revision;
  r.actor = absl::StrCat("people/", c.author_id);
  r.time = now;
  r.reason = c.note;
  r.target = absl::StrCat("goals/", next.id);
  r.action = "CHECK_IN";
  r.changes = std::move(changes);
  if (auto s = tx.InsertRevision(r, Snapshot{next, n.krs}); !s.ok()) return s;
  ++revisions_;
  return Progress(tx, next, now);
}

absl::Status Loader::Generate(const std::vector<PersonRow>& people,
                              const std::vector<int>& counts, int64_t now) {
  // Owners: level L belongs to active people L steps below the top (the
  // deepest such level for levels below the org's depth), managers first;
  // the lowest level to every active person.
  int max_depth = 0;
  for (const auto& p : people) max_depth = std::max(max_depth, p.depth);
  std::vector<std::vector<std::string>> by_depth(
      static_cast<size_t>(max_depth) + 1);
  std::vector<std::string> everyone;
  for (const auto& p : people) {
    if (!p.active) continue;
    everyone.push_back(p.id);
    if (p.manager || p.depth == 0)
      by_depth[static_cast<size_t>(p.depth)].push_back(p.id);
  }
  if (everyone.empty() || by_depth[0].empty())
    return absl::FailedPreconditionError("no active person at the top");
  const int levels = static_cast<int>(counts.size());
  auto owners_of = [&](int level) -> const std::vector<std::string>& {
    if (level == levels - 1) return everyone;
    for (int d = std::min(level, max_depth); d >= 0; --d) {
      if (!by_depth[static_cast<size_t>(d)].empty())
        return by_depth[static_cast<size_t>(d)];
    }
    return everyone;
  };

  const absl::CivilDay today =
      absl::ToCivilDay(absl::FromUnixMicros(now), absl::UTCTimeZone());
  cycle_.id = storage::NewId();
  cycle_.display_name = absl::StrCat(
      "FY",
      absl::FormatTime("%Y", absl::FromUnixMicros(now), absl::UTCTimeZone()),
      " bench quarter");
  cycle_.start_date = absl::FormatCivilTime(today - 60);
  cycle_.end_date = absl::FormatCivilTime(today + 30);
  cycle_.state = goals::CycleState::kActive;
  cycle_.revision = 1;
  const int64_t cycle_start =
      absl::ToUnixMicros(absl::FromCivil(today - 60, absl::UTCTimeZone()));
  cycle_.create_time = cycle_.update_time =
      cycle_start - int64_t{7} * kDay * 1000000;
  if (auto s = goals::ValidateCycle(cycle_); !s.ok()) return s;

  int total = 0;
  for (int c : counts) total += c;
  nodes_.reserve(static_cast<size_t>(total));
  std::vector<int> level_start;
  for (int level = 0; level < levels; ++level) {
    level_start.push_back(static_cast<int>(nodes_.size()));
    const auto& owners = owners_of(level);
    const int count = counts[static_cast<size_t>(level)];
    for (int j = 0; j < count; ++j) {
      Node n;
      n.level = level;
      Goal& g = n.goal;
      g.id = storage::NewId();
      g.title = absl::StrCat(kVerbs[Below(10)], " ", kObjects[Below(12)], " (",
                             level, ".", j, ")");
      g.description = "Generated by sightline-bench-goals-load.";
      g.owner.person_id = owners[static_cast<size_t>(j) % owners.size()];
      g.cycle_id = cycle_.id;
      g.level = level == 0            ? goals::Level::kCompany
                : level == levels - 1 ? goals::Level::kIndividual
                                      : goals::Level::kTeam;
      if (level > 0) {
        const int prev = counts[static_cast<size_t>(level) - 1];
        n.parent = level_start[static_cast<size_t>(level) - 1] + j % prev;
        g.parent_id = nodes_[static_cast<size_t>(n.parent)].goal.id;
      }
      g.weight = level == 0 ? 1 : (Below(4) == 0 ? 2 : 1);
      g.progress_source = goals::ProgressSource::kBoth;
      const int kind = Below(50);
      g.kind = kind == 0  ? goals::Kind::kExperiment
               : kind < 6 ? goals::Kind::kStretch
                          : goals::Kind::kCommitted;
      if (g.kind == goals::Kind::kExperiment)
        g.hypothesis = "If we try this, the metric moves.";
      const int vis = Below(20);
      g.visibility = level < 3 || vis >= 3 ? goals::Visibility::kPublic
                     : vis == 0            ? goals::Visibility::kPrivate
                                           : goals::Visibility::kTeam;
      g.state = goals::GoalState::kActive;
      g.tags = {kTags[Below(6)]};
      if (level == levels - 1 && Below(3) == 0) {
        const std::string& c = everyone[static_cast<size_t>(
            Below(static_cast<int>(everyone.size())))];
        if (c != g.owner.person_id) g.contributor_ids.push_back(c);
      }
      KeyResult a;
      a.title = "Milestones delivered";
      a.measure = goals::Measure::kNumber;
      a.direction = goals::Direction::kIncrease;
      a.baseline = 0;
      a.target = 100;
      a.unit = "points";
      a.weight = 1;
      KeyResult b;
      b.title = "Adoption";
      b.measure = goals::Measure::kPercent;
      b.direction = goals::Direction::kIncrease;
      b.baseline = 10;
      b.target = 90;
      b.weight = 2;
      for (KeyResult* kr : {&a, &b}) {
        goals::ApplyKeyResultDefaults(kr);
        kr->current = kr->baseline;
        if (auto s = goals::ValidateKeyResult(*kr); !s.ok()) return s;
        n.krs.push_back(*kr);
        n.pace.push_back(Uniform(0.45, 1.1));
      }
      if (auto s = goals::ValidateGoal(g); !s.ok()) return s;
      std::vector<std::string> ancestors;
      const Goal* parent = nullptr;
      if (n.parent >= 0) {
        parent = &nodes_[static_cast<size_t>(n.parent)].goal;
        for (int up = nodes_[static_cast<size_t>(n.parent)].parent; up >= 0;
             up = nodes_[static_cast<size_t>(up)].parent) {
          ancestors.push_back(nodes_[static_cast<size_t>(up)].goal.id);
        }
      }
      if (auto s = goals::CheckAlignment(g, cycle_, parent,
                                         parent ? &cycle_ : nullptr, ancestors);
          !s.ok()) {
        return s;
      }
      nodes_.push_back(std::move(n));
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::Verify() {
  // Every goal's sums, recomputed from its key results and children.
  std::vector<Contribution> kids(nodes_.size());
  for (const auto& n : nodes_) {
    if (n.parent < 0) continue;
    Contribution c = goals::ChildContribution(n.goal);
    kids[static_cast<size_t>(n.parent)].weight += c.weight;
    kids[static_cast<size_t>(n.parent)].weighted += c.weighted;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Goal& g = nodes_[i].goal;
    Contribution kr;
    for (const auto& k : nodes_[i].krs) {
      Contribution c = goals::KeyResultContribution(k);
      kr.weight += c.weight;
      kr.weighted += c.weighted;
    }
    double progress =
        goals::GoalProgress(g.progress_source, kr.weight, kr.weighted,
                            kids[i].weight, kids[i].weighted);
    for (double d :
         {g.kr_weight - kr.weight, g.kr_weighted - kr.weighted,
          g.child_weight - kids[i].weight, g.child_weighted - kids[i].weighted,
          g.progress - progress}) {
      max_drift_ = std::max(max_drift_, std::fabs(d));
    }
  }
  if (max_drift_ > 1e-9) {
    return absl::InternalError(
        absl::StrCat("roll-up drifted by ", max_drift_, " from a recount"));
  }
  return absl::OkStatus();
}

absl::Status Loader::Run(const std::vector<PersonRow>& people,
                         const std::vector<int>& counts, int check_ins) {
  const int64_t now = absl::ToUnixMicros(absl::Now());
  if (auto s = Generate(people, counts, now); !s.ok()) return s;
  const int64_t cycle_start = absl::ToUnixMicros(absl::FromCivil(
      *goals::ParseDate(cycle_.start_date), absl::UTCTimeZone()));
  // Goals are set during the cycle's first five days, top down.
  const int64_t setting = int64_t{5} * kDay * 1000000;
  const int64_t first_goal = cycle_start + int64_t{3600} * 1000000;
  auto created_at = [&](size_t i) {
    return first_goal + setting * static_cast<int64_t>(i) /
                            static_cast<int64_t>(nodes_.size());
  };

  absl::Time t0 = absl::Now();
  if (auto s = Tx("bench.cycle",
                  [&](GoalTx& tx) { return tx.PutCycle(cycle_, true); });
      !s.ok()) {
    return s;
  }
  const size_t per_tx = static_cast<size_t>(absl::GetFlag(FLAGS_goals_per_tx));
  for (size_t start = 0; start < nodes_.size(); start += per_tx) {
    auto s = Tx("bench.goals", [&](GoalTx& tx) -> absl::Status {
      for (size_t i = start; i < std::min(nodes_.size(), start + per_tx); ++i) {
        if (auto s = InsertGoal(tx, static_cast<int>(i), created_at(i));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  seconds_goals_ = absl::ToDoubleSeconds(absl::Now() - t0);

  // Check-ins: round r of every goal falls in the r-th slice of the time
  // from the end of goal setting to an hour ago, at a random moment of it.
  const int64_t from = first_goal + setting + int64_t{kDay} * 1000000;
  const int64_t to = now - int64_t{3600} * 1000000;
  const int goal_count = static_cast<int>(nodes_.size());
  rounds_ = (check_ins + goal_count - 1) / goal_count;
  const int64_t slice = (to - from) / std::max(1, rounds_);
  plan_.reserve(static_cast<size_t>(check_ins));
  for (int k = 0; k < check_ins; ++k) {
    const int round = k / goal_count + 1;
    const int64_t t =
        from + slice * (round - 1) +
        static_cast<int64_t>(Uniform(0, 1) * static_cast<double>(slice));
    plan_.push_back({t, k % goal_count, round});
  }
  std::sort(plan_.begin(), plan_.end(),
            [](const PlannedCheckIn& a, const PlannedCheckIn& b) {
              return a.time != b.time ? a.time < b.time : a.goal < b.goal;
            });
  t0 = absl::Now();
  const size_t ci_per_tx =
      static_cast<size_t>(absl::GetFlag(FLAGS_check_ins_per_tx));
  for (size_t start = 0; start < plan_.size(); start += ci_per_tx) {
    auto s = Tx("bench.check_ins", [&](GoalTx& tx) -> absl::Status {
      for (size_t i = start; i < std::min(plan_.size(), start + ci_per_tx);
           ++i) {
        if (auto s = CheckIn(tx, plan_[i]); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  seconds_check_ins_ = absl::ToDoubleSeconds(absl::Now() - t0);

  if (auto s = Verify(); !s.ok()) return s;
  // Last, the rows of every goal and key result as they stand now.
  t0 = absl::Now();
  for (size_t start = 0; start < nodes_.size(); start += per_tx) {
    auto s = Tx("bench.rows", [&](GoalTx& tx) -> absl::Status {
      for (size_t i = start; i < std::min(nodes_.size(), start + per_tx); ++i) {
        if (auto s = tx.PutGoal(nodes_[i].goal, true); !s.ok()) return s;
        for (const auto& kr : nodes_[i].krs) {
          if (auto s = tx.PutKeyResult(kr, true); !s.ok()) return s;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  seconds_rows_ = absl::ToDoubleSeconds(absl::Now() - t0);
  return absl::OkStatus();
}

int Run() {
  const absl::Time start = absl::Now();
  const std::string db_path = absl::GetFlag(FLAGS_db);
  const std::string target = absl::GetFlag(FLAGS_people_target);
  if (db_path.empty() || target.empty())
    return Fail("--db and --people_target must be set");
  auto counts = LevelCounts(absl::GetFlag(FLAGS_goals));
  if (!counts.ok()) return Fail(std::string(counts.status().message()));
  const int check_ins = absl::GetFlag(FLAGS_check_ins);
  if (check_ins < 0) return Fail("--check_ins >= 0");

  auto key = auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
  if (!key.ok()) return Fail(std::string(key.status().message()));
  auth::MintOptions mint;
  mint.key = *key;
  mint.subject = "bench-goals-loader";
  mint.roles = {auth::Role::kService};
  auto token = auth::Mint(mint);
  if (!token.ok()) return Fail(std::string(token.status().message()));
  auto people = ReadPeople(target, *token);
  if (!people.ok()) return Fail(std::string(people.status().message()));
  const double people_seconds = absl::ToDoubleSeconds(absl::Now() - start);

  auto db = storage::Database::Open({.url = db_path, .pool_size = 1});
  if (!db.ok()) return Fail(std::string(db.status().message()));
  if (auto st = storage::Migrate(**db, "goals", goals::GoalsMigrations());
      !st.ok()) {
    return Fail(std::string(st.message()));
  }
  goals::SqlGoalRepository repo(db->get());
  Loader loader(&repo, absl::GetFlag(FLAGS_seed));
  if (auto st = loader.Run(*people, *counts, check_ins); !st.ok())
    return Fail(std::string(st.message()));

  // Read back through the service's store: every goal of the cycle is there.
  auto rows = repo.RowsOfCycle(loader.cycle().id);
  if (!rows.ok()) return Fail(std::string(rows.status().message()));
  const auto& nodes = loader.nodes();
  if (rows->size() != nodes.size()) {
    return Fail(
        absl::StrCat("stored ", rows->size(), " goals of ", nodes.size()));
  }
  for (size_t i = 0; i < nodes.size(); i += nodes.size() / 97 + 1) {
    auto g = repo.GetGoal(nodes[i].goal.id);
    if (!g.ok()) return Fail(std::string(g.status().message()));
    if (g->progress != nodes[i].goal.progress ||
        g->revision != nodes[i].goal.revision ||
        g->child_weighted != nodes[i].goal.child_weighted) {
      return Fail(
          absl::StrCat("goal ", g->id, " did not read back as written"));
    }
  }

  // The reader of trees and goals: an active manager in the middle of the org.
  std::string reader;
  for (const auto& p : *people) {
    if (p.active && p.manager && p.depth == 3) {
      reader = p.id;
      break;
    }
  }
  if (reader.empty()) reader = nodes[0].goal.owner.person_id;

  std::vector<int> per_level(counts->size());
  int company_roots = 0;
  std::string sample;  // a PUBLIC goal of the lowest level
  const int lowest = static_cast<int>(counts->size()) - 1;
  for (const auto& n : nodes) {
    ++per_level[static_cast<size_t>(n.level)];
    company_roots += n.level == 0;
    if (sample.empty() && n.level == lowest &&
        n.goal.visibility == goals::Visibility::kPublic) {
      sample = n.goal.id;
    }
  }
  if (auto path = absl::GetFlag(FLAGS_leaves_out); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& n : nodes) {
      if (n.level != lowest) continue;
      out << n.goal.id << ' ' << n.goal.owner.person_id;
      for (const auto& kr : n.krs) out << ' ' << kr.id;
      out << '\n';
    }
    out.close();
    if (!out) return Fail(absl::StrCat("cannot write ", path));
  }
  int depth3 = 0;
  for (size_t l = 0; l < per_level.size() && l <= 3; ++l)
    depth3 += per_level[l];
  std::string shape;
  for (size_t l = 0; l < per_level.size(); ++l)
    absl::StrAppend(&shape, l ? "," : "", per_level[l]);

  std::printf("people=%zu\n", people->size());
  std::printf("cycle=%s\n", loader.cycle().id.c_str());
  std::printf("goals=%zu\nlevels=%s\n", nodes.size(), shape.c_str());
  std::printf("company_roots=%d\ndepth3_nodes=%d\n", company_roots, depth3);
  std::printf("key_results=%zu\n", nodes.size() * 2);
  std::printf("check_ins=%d\nrevisions=%lld\nprogress_points=%lld\n", check_ins,
              static_cast<long long>(loader.revisions()),
              static_cast<long long>(loader.progress_points()));
  std::printf("roll_up_steps=%lld\nmax_roll_up_drift=%.3g\n",
              static_cast<long long>(loader.roll_up_steps()),
              loader.max_drift());
  std::printf("reader=%s\nsample_goal=%s\n", reader.c_str(), sample.c_str());
  std::printf("read_people_seconds=%.2f\n", people_seconds);
  std::printf("goals_seconds=%.2f\ncheck_ins_seconds=%.2f\nrows_seconds=%.2f\n",
              loader.seconds_goals(), loader.seconds_check_ins(),
              loader.seconds_rows());
  std::printf("load_seconds=%.2f\n",
              absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

}  // namespace
}  // namespace sightline::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a generated company's goals and check-ins into a goals SQLite "
      "database; prints key=value lines.");
  absl::ParseCommandLine(argc, argv);
  return sightline::bench::Run();
}
