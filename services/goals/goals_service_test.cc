#include "services/goals/goals_service.h"

#include <soci/soci.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/auth/principal.h"
#include "lib/status/status.h"
#include "lib/storage/change_log.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/goals/kpi_follower.h"
#include "services/goals/sql_repository.h"

namespace sightline::goals {
namespace {

using ::sightline::testing::InvalidNaming;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr double kEps = 1e-9;

// An in-memory org that stands in for the people service: the replica
// (OrgView, TeamMembers, Reports) always answers; the fresh calls fail with
// UNAVAILABLE while the service is "down".
class FakeOrg : public OrgService {
 public:
  void AddTeam(const std::string& id, const std::string& parent,
               const std::string& lead) {
    teams_[id] = TeamInfo{id, parent, lead};
  }
  void AddPerson(const std::string& id, const std::string& team,
                 const std::string& manager, bool active = true) {
    people_[id] = PersonInfo{id, team, manager, active};
  }
  void set_down(bool down) { down_ = down; }
  int fresh_calls() const { return fresh_calls_; }

  std::optional<PersonInfo> Person(const std::string& id) const override {
    auto it = people_.find(id);
    if (it == people_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<TeamInfo> Team(const std::string& id) const override {
    auto it = teams_.find(id);
    if (it == teams_.end()) return std::nullopt;
    return it->second;
  }

  absl::StatusOr<Caller> ResolveCaller(const auth::Principal& principal,
                                       bool fresh) override {
    Caller c;
    c.hr_admin = principal.HasRole(auth::Role::kHrAdmin);
    c.service = principal.IsService();
    std::string id = principal.subject;
    if (absl::StartsWith(id, "people/")) id = id.substr(7);
    if (people_.contains(id)) {
      c.person_id = id;
      return c;
    }
    if (!fresh || c.service) return c;
    ++fresh_calls_;
    if (down_) return Down();
    return c;  // unknown to the people service too: no person
  }

  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields) override {
    ++fresh_calls_;
    if (down_) return Down();
    status::FieldErrors errors;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string field = i < fields.size() ? fields[i] : "person";
      auto it = people_.find(ids[i]);
      if (it == people_.end()) {
        errors.Add(field, absl::StrCat("people/", ids[i], " does not exist"));
      } else if (!it->second.active) {
        errors.Add(field, absl::StrCat("people/", ids[i],
                                       " has left the organization"));
      }
    }
    return errors.Build();
  }

  absl::Status ValidateTeam(const std::string& team_id,
                            const std::string& field) override {
    ++fresh_calls_;
    if (down_) return Down();
    if (!teams_.contains(team_id)) {
      return status::InvalidField(
          field, absl::StrCat("teams/", team_id, " does not exist"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string& person_id) override {
    ++fresh_calls_;
    if (down_) return Down();
    return ManagementChain(*this, person_id);
  }

  // Active members of the team and of its sub-teams, sorted.
  std::vector<std::string> TeamMembers(
      const std::string& team_id) const override {
    std::vector<std::string> out;
    for (const auto& [id, p] : people_) {
      if (p.active && IsTeamOrSubTeam(*this, p.team_id, team_id)) {
        out.push_back(id);
      }
    }
    return out;
  }

  // Active reports (direct, or at every level), sorted.
  std::vector<std::string> Reports(const std::string& manager_id,
                                   bool all_levels) const override {
    std::vector<std::string> out;
    std::set<std::string> seen = {manager_id};
    std::deque<std::string> queue = {manager_id};
    while (!queue.empty()) {
      std::string cur = queue.front();
      queue.pop_front();
      for (const auto& [id, p] : people_) {
        if (p.manager_id != cur || !seen.insert(id).second) continue;
        if (p.active) out.push_back(id);
        if (all_levels) queue.push_back(id);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static absl::Status Down() {
    return absl::UnavailableError("people service: connection refused");
  }
  std::map<std::string, PersonInfo> people_;
  std::map<std::string, TeamInfo> teams_;
  bool down_ = false;
  int fresh_calls_ = 0;
};

Caller P(const std::string& id) {
  Caller c;
  c.person_id = id;
  return c;
}
Caller Hr() {
  Caller c;
  c.person_id = "hana";
  c.hr_admin = true;
  return c;
}
Caller Svc() {
  Caller c;
  c.service = true;
  return c;
}

KeyResult Kr(const std::string& title, double target, double weight = 1,
             double current = 0) {
  KeyResult k;
  k.title = title;
  k.measure = Measure::kNumber;
  k.direction = Direction::kIncrease;
  k.baseline = 0;
  k.target = target;
  k.weight = weight;
  k.current = current;
  return k;
}

std::vector<std::string> Ids(const std::vector<GoalView>& views) {
  std::vector<std::string> out;
  for (const auto& v : views) out.push_back(v.goal.id);
  return out;
}

std::vector<std::string> Actions(const std::vector<Revision>& revs) {
  std::vector<std::string> out;
  for (const auto& r : revs) out.push_back(r.action);
  return out;
}

// The real service over a real SQLite database in a temp dir; the org is
//   cora (CEO, team exec)
//   ├─ victor (VP, lead of eng)
//   │  └─ mia (lead of platform, a sub-team of eng)
//   │     ├─ ann, bob (platform)
//   │     └─ carl (platform, has left)
//   ├─ sam (lead of sales)
//   │  └─ sue (sales)
//   └─ hana (hr_admin, no team)
// The clock starts in the middle of the 90-day cycle Q1 2025 (expected
// progress 0.5) and moves only when a test moves it.
class GoalsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::sightline::testing::MakeTempDir("goals-service");
    auto db = ::sightline::testing::OpenMigratedSqlite(dir_, "goals",
                                                       GoalsMigrations());
    ASSERT_THAT(db, IsOk());
    db_ = std::move(*db);
    repo_ = std::make_unique<SqlGoalRepository>(db_.get());

    org_.AddTeam("exec", "", "cora");
    org_.AddTeam("eng", "exec", "victor");
    org_.AddTeam("platform", "eng", "mia");
    org_.AddTeam("sales", "exec", "sam");
    org_.AddPerson("cora", "exec", "");
    org_.AddPerson("victor", "eng", "cora");
    org_.AddPerson("mia", "platform", "victor");
    org_.AddPerson("ann", "platform", "mia");
    org_.AddPerson("bob", "platform", "mia");
    org_.AddPerson("carl", "platform", "mia", /*active=*/false);
    org_.AddPerson("sam", "sales", "cora");
    org_.AddPerson("sue", "sales", "sam");
    org_.AddPerson("hana", "", "cora");

    now_ = At(2025, 2, 15);
    MakeService(GoalsOptions{});
    q1_ = MakeCycle("2025 Q1", "2025-01-01", "2025-03-31");
  }

  void TearDown() override {
    service_.reset();
    repo_.reset();
    db_.reset();
    if (!dir_.empty()) ::sightline::testing::RemoveTree(dir_);
  }

  static absl::Time At(int y, int m, int d, int h = 0) {
    return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0),
                           absl::UTCTimeZone());
  }

  void MakeService(GoalsOptions options) {
    service_ = std::make_unique<GoalsService>(
        repo_.get(), &org_, std::move(options), [this] { return now_; });
  }
  GoalsService& svc() { return *service_; }

  std::string MakeCycle(const std::string& name, const std::string& start,
                        const std::string& end) {
    Cycle c;
    c.display_name = name;
    c.start_date = start;
    c.end_date = end;
    c.state = CycleState::kActive;
    auto made = svc().CreateCycle(Hr(), c, Idempotency{});
    EXPECT_THAT(made, IsOk()) << name;
    return made.ok() ? made->id : "";
  }

  // A new goal as a client would send it: state unset (ACTIVE, or
  // PENDING_APPROVAL when it needs approval).
  Goal NewGoal(const std::string& title, const std::string& parent = "") {
    Goal g;
    g.title = title;
    g.cycle_id = q1_;
    g.parent_id = parent;
    g.state = static_cast<GoalState>(0);
    return g;
  }
  Goal PersonGoal(const std::string& owner, const std::string& title,
                  const std::string& parent = "") {
    Goal g = NewGoal(title, parent);
    g.owner.person_id = owner;
    g.level = Level::kIndividual;
    g.progress_source = ProgressSource::kKeyResults;
    return g;
  }
  Goal TeamGoal(const std::string& team, const std::string& title,
                const std::string& parent = "") {
    Goal g = NewGoal(title, parent);
    g.owner.team_id = team;
    g.level = Level::kTeam;
    g.progress_source = ProgressSource::kBoth;
    return g;
  }
  Goal CompanyGoal(const std::string& title) {
    Goal g = NewGoal(title);
    g.owner.person_id = "cora";
    g.level = Level::kCompany;
    g.progress_source = ProgressSource::kChildren;
    return g;
  }

  std::string Create(const Caller& caller, Goal g,
                     std::vector<KeyResult> krs = {}) {
    std::string title = g.title;
    auto v =
        svc().CreateGoal(caller, std::move(g), std::move(krs), Idempotency{});
    EXPECT_THAT(v, IsOk()) << "creating " << title;
    return v.ok() ? v->goal.id : "";
  }

  Goal Get(const std::string& id) {
    auto v = svc().GetGoal(Svc(), id);
    EXPECT_THAT(v, IsOk()) << "reading goals/" << id;
    return v.ok() ? v->goal : Goal{};
  }

  std::vector<KeyResult> Krs(const std::string& goal_id) {
    auto k = svc().ListKeyResults(Svc(), goal_id);
    EXPECT_THAT(k, IsOk());
    return k.ok() ? *k : std::vector<KeyResult>{};
  }

  // Key results created together share a create_time and are listed by id:
  // found by title.
  std::string KrId(const std::string& goal_id, const std::string& title) {
    for (const auto& k : Krs(goal_id)) {
      if (k.title == title) return k.id;
    }
    ADD_FAILURE() << "no key result '" << title << "' on goals/" << goal_id;
    return "";
  }

  std::vector<Revision> History(const std::string& goal_id) {
    auto r = svc().ListRevisions(Svc(), goal_id, Page{"", 1000});
    EXPECT_THAT(r, IsOk());
    return r.ok() ? *r : std::vector<Revision>{};
  }

  absl::StatusOr<CheckIn> DoCheckIn(
      const Caller& caller, const std::string& goal_id,
      const std::vector<std::pair<std::string, double>>& values,
      const std::string& note = "", const Idempotency& idem = Idempotency{},
      Health status = Health::kUnspecified) {
    CheckIn c;
    for (const auto& [kr, value] : values) {
      CheckInValue v;
      v.key_result_id = kr;
      v.value = value;
      c.values.push_back(v);
    }
    c.confidence = 0.8;
    c.status = status;
    c.note = note;
    return svc().CreateCheckIn(caller, goal_id, c, idem);
  }

  absl::StatusOr<GoalView> SetState(const Caller& caller, const std::string& id,
                                    GoalState state) {
    Goal patch;
    patch.state = state;
    return svc().UpdateGoal(caller, id, patch, {"state"}, "", "");
  }

  std::vector<GoalView> ListAll(const Caller& caller, const GoalFilter& f) {
    std::string cursor;
    auto got = svc().ListGoals(caller, f, Page{"", 1000}, &cursor);
    EXPECT_THAT(got, IsOk());
    EXPECT_EQ(cursor, "");
    return got.ok() ? *got : std::vector<GoalView>{};
  }

  // company C (CHILDREN) <- team T (BOTH; t1 0..10, weight 2)
  //   <- ann's A (a1 0..100, a2 0..10) and bob's B (weight 3; b1 0..200),
  // then check-ins a1=50, a2=10 (A 0.75), b1=100 (B 0.5), t1=5 (t1 0.5):
  // T = C = (2*0.5 + 1*0.75 + 3*0.5) / (2 + 1 + 3) = 3.25 / 6.
  struct Tree {
    std::string c, t, a, b;
    std::string t1, a1, a2, b1;
  };
  Tree BuildTree() {
    Tree tr;
    tr.c = Create(P("cora"), CompanyGoal("Grow the business"));
    tr.t = Create(P("mia"), TeamGoal("platform", "Reliable platform", tr.c),
                  {Kr("uptime nines", 10, 2)});
    tr.a = Create(P("mia"), PersonGoal("ann", "Ship the scheduler", tr.t),
                  {Kr("jobs migrated", 100), Kr("runbooks", 10)});
    Goal b = PersonGoal("bob", "Cut build time", tr.t);
    b.weight = 3;
    tr.b = Create(P("mia"), b, {Kr("minutes saved", 200)});
    tr.t1 = KrId(tr.t, "uptime nines");
    tr.a1 = KrId(tr.a, "jobs migrated");
    tr.a2 = KrId(tr.a, "runbooks");
    tr.b1 = KrId(tr.b, "minutes saved");
    EXPECT_THAT(DoCheckIn(P("ann"), tr.a, {{tr.a1, 50}, {tr.a2, 10}}), IsOk());
    EXPECT_THAT(DoCheckIn(P("bob"), tr.b, {{tr.b1, 100}}), IsOk());
    EXPECT_THAT(DoCheckIn(P("mia"), tr.t, {{tr.t1, 5}}), IsOk());
    return tr;
  }

  std::string dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<SqlGoalRepository> repo_;
  FakeOrg org_;
  absl::Time now_;
  std::unique_ptr<GoalsService> service_;
  std::string q1_;
};

// ---- roll-up ----------------------------------------------------------------

TEST_F(GoalsServiceTest, CheckInsRollUpThroughThreeLevelsInTheSameCall) {
  const std::string c = Create(P("cora"), CompanyGoal("Grow the business"));
  const std::string t =
      Create(P("mia"), TeamGoal("platform", "Reliable platform", c),
             {Kr("uptime nines", 10, /*weight=*/2)});
  const std::string a =
      Create(P("mia"), PersonGoal("ann", "Ship the scheduler", t),
             {Kr("jobs migrated", 100), Kr("runbooks", 10)});
  Goal bg = PersonGoal("bob", "Cut build time", t);
  bg.weight = 3;
  const std::string b = Create(P("mia"), bg, {Kr("minutes saved", 200)});
  ASSERT_FALSE(HasFailure());
  const std::string a1 = KrId(a, "jobs migrated"), a2 = KrId(a, "runbooks");
  const std::string b1 = KrId(b, "minutes saved");
  const std::string t1 = KrId(t, "uptime nines");
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(Get(a).state, GoalState::kActive);
  EXPECT_NEAR(Get(t).progress, 0, kEps);
  EXPECT_NEAR(Get(t).child_weight, 1 + 3, kEps);
  EXPECT_NEAR(Get(t).kr_weight, 2, kEps);
  EXPECT_NEAR(Get(c).child_weight, 1, kEps);

  // Ann: a1 50/100, a2 10/10 -> A = (0.5 + 1) / 2.
  auto ci = DoCheckIn(P("ann"), a, {{a1, 50}, {a2, 10}});
  ASSERT_THAT(ci, IsOk());
  EXPECT_NEAR(ci->progress, 0.75, kEps);
  EXPECT_NEAR(Get(a).progress, 0.75, kEps);
  // T = (2*0 + 1*0.75 + 3*0) / (2 + 1 + 3); C has only T.
  EXPECT_NEAR(Get(t).progress, 0.75 / 6, kEps);
  EXPECT_NEAR(Get(c).progress, 0.75 / 6, kEps);

  // Bob: b1 100/200 -> B = 0.5, weighing 3: T = (0.75 + 3*0.5) / 6 = 0.375
  // (with weight 1 it would be (0.75 + 0.5) / 4 = 0.3125).
  ASSERT_THAT(DoCheckIn(P("bob"), b, {{b1, 100}}), IsOk());
  EXPECT_NEAR(Get(b).progress, 0.5, kEps);
  EXPECT_NEAR(Get(t).progress, 0.375, kEps);
  EXPECT_NEAR(Get(c).progress, 0.375, kEps);

  // The team's own key result: t1 5/10 -> T = (2*0.5 + 0.75 + 1.5) / 6.
  ASSERT_THAT(DoCheckIn(P("mia"), t, {{t1, 5}}), IsOk());
  EXPECT_NEAR(Get(t).progress, 3.25 / 6, kEps);
  EXPECT_NEAR(Get(c).progress, 3.25 / 6, kEps);
  EXPECT_NEAR(Get(a).progress, 0.75, kEps);

  // A second company child (sales, 1 of 4 done) halves the company's mean:
  // C = (3.25/6 + 0.25) / 2.
  ASSERT_FALSE(Create(P("sam"), TeamGoal("sales", "Close deals", c),
                      {Kr("deals", 4, 1, 1)})
                   .empty());
  EXPECT_NEAR(Get(c).progress, (3.25 / 6 + 0.25) / 2, kEps);
  EXPECT_NEAR(Get(t).progress, 3.25 / 6, kEps);
}

TEST_F(GoalsServiceTest, CancellingAChildRemovesItFromTheParentsProgress) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());
  ASSERT_NEAR(Get(tr.c).progress, 3.25 / 6, kEps);

  ASSERT_THAT(SetState(P("mia"), tr.b, GoalState::kCancelled), IsOk());
  EXPECT_EQ(Get(tr.b).state, GoalState::kCancelled);
  // T = (2*0.5 + 0.75) / (2 + 1).
  EXPECT_NEAR(Get(tr.t).progress, 1.75 / 3, kEps);
  EXPECT_NEAR(Get(tr.t).child_weight, 1, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 1.75 / 3, kEps);
}

TEST_F(GoalsServiceTest, MovingAGoalMovesItsContribution) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());
  const std::string t2 =
      Create(P("mia"), TeamGoal("platform", "Faster builds", tr.c),
             {Kr("cache hits", 10)});
  ASSERT_FALSE(t2.empty());
  // C = (T + T2) / 2 with T2 at 0.
  EXPECT_NEAR(Get(tr.c).progress, (3.25 / 6) / 2, kEps);

  Goal patch;
  patch.parent_id = t2;
  EXPECT_THAT(svc().UpdateGoal(P("mia"), tr.a, patch, {"parent"}, "", ""),
              InvalidNaming("reason"));
  EXPECT_EQ(Get(tr.a).parent_id, tr.t);
  ASSERT_THAT(svc().UpdateGoal(P("mia"), tr.a, patch, {"parent"}, "",
                               "the scheduler serves build speed"),
              IsOk());
  EXPECT_EQ(Get(tr.a).parent_id, t2);
  // T = (2*0.5 + 3*0.5) / (2 + 3); T2 = (0 + 0.75) / (1 + 1).
  EXPECT_NEAR(Get(tr.t).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.t).child_weight, 3, kEps);
  EXPECT_NEAR(Get(t2).progress, 0.375, kEps);
  EXPECT_NEAR(Get(t2).child_weight, 1, kEps);
  EXPECT_NEAR(Get(tr.c).progress, (0.5 + 0.375) / 2, kEps);

  // A later check-in on A moves its new parent, not the old one.
  ASSERT_THAT(DoCheckIn(P("ann"), tr.a, {{tr.a1, 100}}), IsOk());
  EXPECT_NEAR(Get(t2).progress, (0 + 1.0) / 2, kEps);
  EXPECT_NEAR(Get(tr.t).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.c).progress, (0.5 + 0.5) / 2, kEps);
}

TEST_F(GoalsServiceTest, DeletingADraftRemovesItsContribution) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());
  Goal d = PersonGoal("ann", "Draft idea", tr.t);
  d.state = GoalState::kDraft;
  const std::string draft = Create(P("ann"), d, {Kr("done", 1, 1, 1)});
  ASSERT_FALSE(draft.empty());
  EXPECT_EQ(Get(draft).state, GoalState::kDraft);
  EXPECT_NEAR(Get(draft).progress, 1, kEps);
  // A DRAFT child counts at its progress: T = (3.25 + 1) / 7.
  EXPECT_NEAR(Get(tr.t).progress, 4.25 / 7, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 4.25 / 7, kEps);

  ASSERT_THAT(svc().DeleteGoal(P("ann"), draft, ""), IsOk());
  EXPECT_THAT(svc().GetGoal(Svc(), draft),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_NEAR(Get(tr.t).progress, 3.25 / 6, kEps);
  EXPECT_NEAR(Get(tr.t).child_weight, 4, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 3.25 / 6, kEps);
}

TEST_F(GoalsServiceTest, KeyResultChangesMoveTheRollUp) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());

  // t1: target 10 -> 20, so 5 is 0.25: T = (2*0.25 + 0.75 + 1.5) / 6.
  KeyResult patch;
  patch.target = 20;
  auto updated = svc().UpdateKeyResult(P("mia"), tr.t, tr.t1, patch, {"target"},
                                       "", "uptime goal raised");
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->target, 20);
  EXPECT_EQ(updated->revision, 3);  // created, checked in, recalibrated
  EXPECT_NEAR(Get(tr.t).progress, 2.75 / 6, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 2.75 / 6, kEps);

  // Removing a2 (done) leaves A at a1 = 0.5: T = (0.5 + 0.5 + 1.5) / 6.
  EXPECT_THAT(svc().DeleteKeyResult(P("ann"), tr.a, tr.a2, "", ""),
              InvalidNaming("reason"));
  ASSERT_THAT(
      svc().DeleteKeyResult(P("ann"), tr.a, tr.a2, "", "runbooks moved"),
      IsOk());
  EXPECT_EQ(Krs(tr.a).size(), 1u);
  EXPECT_NEAR(Get(tr.a).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.t).progress, 2.5 / 6, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 2.5 / 6, kEps);

  // A new key result, already done: A = (0.5 + 1) / 2 again.
  auto added = svc().CreateKeyResult(P("ann"), tr.a, Kr("alerts", 4, 1, 4), "",
                                     Idempotency{});
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->goal_id, tr.a);
  EXPECT_NEAR(Get(tr.a).progress, 0.75, kEps);
  EXPECT_NEAR(Get(tr.t).progress, 2.75 / 6, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 2.75 / 6, kEps);

  // A key result's weight counts too: b1 weight 1 -> 3 changes nothing in B
  // (its only key result), so nothing above it moves.
  KeyResult w;
  w.weight = 3;
  ASSERT_THAT(svc().UpdateKeyResult(P("bob"), tr.b, tr.b1, w, {"weight"}, "",
                                    "more important"),
              IsOk());
  EXPECT_NEAR(Get(tr.b).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.t).progress, 2.75 / 6, kEps);
}

TEST_F(GoalsServiceTest, WeightAndSourceChangesRescaleTheRollUp) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());

  // B's weight 3 -> 1: T = (2*0.5 + 0.75 + 1*0.5) / (2 + 1 + 1).
  Goal w;
  w.weight = 1;
  ASSERT_THAT(svc().UpdateGoal(P("mia"), tr.b, w, {"weight"}, "",
                               "smaller than planned"),
              IsOk());
  EXPECT_NEAR(Get(tr.t).child_weight, 2, kEps);
  EXPECT_NEAR(Get(tr.t).progress, 2.25 / 4, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 2.25 / 4, kEps);

  // T counts its children only: (0.75 + 0.5) / 2.
  Goal src;
  src.progress_source = ProgressSource::kChildren;
  ASSERT_THAT(
      svc().UpdateGoal(P("mia"), tr.t, src, {"progress_source"}, "", ""),
      IsOk());
  EXPECT_NEAR(Get(tr.t).progress, 0.625, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 0.625, kEps);
  // ...or its key results only: t1 at 0.5.
  src.progress_source = ProgressSource::kKeyResults;
  ASSERT_THAT(
      svc().UpdateGoal(P("mia"), tr.t, src, {"progress_source"}, "", ""),
      IsOk());
  EXPECT_NEAR(Get(tr.t).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.c).progress, 0.5, kEps);
  // A child's check-in still moves the sums, not the progress.
  ASSERT_THAT(DoCheckIn(P("bob"), tr.b, {{tr.b1, 200}}), IsOk());
  EXPECT_NEAR(Get(tr.t).progress, 0.5, kEps);
  EXPECT_NEAR(Get(tr.t).child_weighted, 0.75 + 1, kEps);
}

TEST_F(GoalsServiceTest, ConcurrentCheckInsOnSiblingsLoseNoUpdate) {
  storage::DatabaseOptions opts;
  opts.url = absl::StrCat("sqlite://", dir_, "/goals.db");
  opts.pool_size = 6;
  service_.reset();
  repo_.reset();
  db_.reset();
  auto db = storage::Database::Open(opts);
  ASSERT_THAT(db, IsOk());
  db_ = std::move(*db);
  repo_ = std::make_unique<SqlGoalRepository>(db_.get());
  MakeService(GoalsOptions{});

  Goal pg = TeamGoal("platform", "Parent");
  pg.progress_source = ProgressSource::kChildren;
  const std::string parent = Create(P("mia"), pg);
  constexpr int kGoals = 4, kSteps = 8;
  std::vector<std::string> goals, krs;
  for (int i = 0; i < kGoals; ++i) {
    goals.push_back(Create(
        P("mia"),
        PersonGoal(i % 2 ? "bob" : "ann", absl::StrCat("sibling ", i), parent),
        {Kr("k", 10)}));
    krs.push_back(Krs(goals.back())[0].id);
  }
  ASSERT_FALSE(HasFailure());

  // Goal i ends at 2*(i+1) of 10; each thread climbs there in kSteps.
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(kGoals);
  for (int i = 0; i < kGoals; ++i) {
    threads.emplace_back([&, i] {
      const double final_value = 2.0 * (i + 1);
      for (int s = 1; s <= kSteps && errors[i].ok(); ++s) {
        auto c =
            DoCheckIn(Svc(), goals[i], {{krs[i], final_value * s / kSteps}});
        errors[i] = c.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_THAT(e, IsOk());
  // (0.2 + 0.4 + 0.6 + 0.8) / 4.
  EXPECT_NEAR(Get(parent).progress, 0.5, kEps);
  EXPECT_NEAR(Get(parent).child_weighted, 2.0, kEps);
  for (int i = 0; i < kGoals; ++i) {
    EXPECT_NEAR(Get(goals[i]).progress, 0.2 * (i + 1), kEps);
    EXPECT_EQ(History(goals[i]).size(), 1u + kSteps);
  }
}

// ---- etags ------------------------------------------------------------------

TEST_F(GoalsServiceTest, FirstWriterWinsTheSecondGetsAborted) {
  const std::string id = Create(P("ann"), PersonGoal("ann", "Write docs"));
  ASSERT_FALSE(id.empty());
  auto first = svc().GetGoal(P("ann"), id);
  auto second = svc().GetGoal(P("mia"), id);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  const std::string etag = svc().Etag(first->goal);
  ASSERT_EQ(etag, svc().Etag(second->goal));

  Goal patch;
  patch.title = "Write the operator docs";
  ASSERT_THAT(svc().UpdateGoal(P("ann"), id, patch, {"title"}, etag, ""),
              IsOk());
  patch.title = "Write the user docs";
  EXPECT_THAT(svc().UpdateGoal(P("mia"), id, patch, {"title"},
                               svc().Etag(second->goal), ""),
              StatusIs(absl::StatusCode::kAborted));
  Goal now = Get(id);
  EXPECT_EQ(now.title, "Write the operator docs");
  EXPECT_EQ(now.revision, 2);
  EXPECT_NE(svc().Etag(now), etag);

  // Without an etag there is no check.
  ASSERT_THAT(svc().UpdateGoal(P("mia"), id, patch, {"title"}, "", ""), IsOk());
  EXPECT_EQ(Get(id).title, "Write the user docs");

  // The same for key results and deletion.
  auto kr =
      svc().CreateKeyResult(P("ann"), id, Kr("pages", 10), "", Idempotency{});
  ASSERT_THAT(kr, IsOk());
  const std::string kr_etag = svc().Etag(*kr);
  KeyResult kp;
  kp.title = "pages written";
  ASSERT_THAT(
      svc().UpdateKeyResult(P("ann"), id, kr->id, kp, {"title"}, kr_etag, ""),
      IsOk());
  kp.title = "pages reviewed";
  EXPECT_THAT(
      svc().UpdateKeyResult(P("ann"), id, kr->id, kp, {"title"}, kr_etag, ""),
      StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Krs(id)[0].title, "pages written");
}

// ---- recalibration ----------------------------------------------------------

TEST_F(GoalsServiceTest, RecalibrationNeedsAReasonThatHistoryKeeps) {
  const std::string p1 = Create(P("mia"), TeamGoal("platform", "Parent one"));
  const std::string p2 = Create(P("mia"), TeamGoal("platform", "Parent two"));
  const std::string g =
      Create(P("ann"), PersonGoal("ann", "Ship it", p1), {Kr("releases", 10)});
  ASSERT_FALSE(HasFailure());
  const std::string kr = Krs(g)[0].id;

  struct Case {
    std::string field;
    Goal patch;
  };
  std::vector<Case> cases;
  {
    Case c{"weight", Goal{}};
    c.patch.weight = 2;
    cases.push_back(c);
    c = Case{"parent", Goal{}};
    c.patch.parent_id = p2;
    cases.push_back(c);
    c = Case{"start_date", Goal{}};
    c.patch.start_date = "2025-01-15";
    cases.push_back(c);
    c = Case{"due_date", Goal{}};
    c.patch.due_date = "2025-03-15";
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    const int64_t rev = Get(g).revision;
    EXPECT_THAT(svc().UpdateGoal(P("ann"), g, c.patch, {c.field}, "", ""),
                InvalidNaming("reason"));
    EXPECT_THAT(svc().UpdateGoal(P("ann"), g, c.patch, {c.field}, "", "   "),
                InvalidNaming("reason"));
    EXPECT_EQ(Get(g).revision, rev);
    const std::string reason = absl::StrCat("recalibrate ", c.field);
    ASSERT_THAT(svc().UpdateGoal(P("ann"), g, c.patch, {c.field}, "", reason),
                IsOk());
    auto h = History(g);
    ASSERT_FALSE(h.empty());
    EXPECT_EQ(h.back().reason, reason);
    EXPECT_EQ(h.back().action, "UPDATE");
    ASSERT_EQ(h.back().changes.size(), 1u);
    EXPECT_EQ(h.back().changes[0].field, c.field);
  }
  Goal now = Get(g);
  EXPECT_EQ(now.weight, 2);
  EXPECT_EQ(now.parent_id, p2);
  EXPECT_EQ(now.start_date, "2025-01-15");
  EXPECT_EQ(now.due_date, "2025-03-15");

  // A title needs no reason.
  Goal title;
  title.title = "Ship it well";
  EXPECT_THAT(svc().UpdateGoal(P("ann"), g, title, {"title"}, "", ""), IsOk());

  for (const char* f : {"target", "baseline", "weight"}) {
    const std::string field = f;
    SCOPED_TRACE(field);
    KeyResult patch = Krs(g)[0];
    if (field == "target") patch.target = 20;
    if (field == "baseline") patch.baseline = 2;
    if (field == "weight") patch.weight = 5;
    EXPECT_THAT(svc().UpdateKeyResult(P("ann"), g, kr, patch, {field}, "", ""),
                InvalidNaming("reason"));
    const std::string reason = absl::StrCat("recalibrate kr ", field);
    ASSERT_THAT(
        svc().UpdateKeyResult(P("ann"), g, kr, patch, {field}, "", reason),
        IsOk());
    auto h = History(g);
    ASSERT_FALSE(h.empty());
    EXPECT_EQ(h.back().reason, reason);
    EXPECT_EQ(h.back().target, absl::StrCat("goals/", g, "/keyResults/", kr));
  }
  KeyResult k = Krs(g)[0];
  EXPECT_EQ(k.target, 20);
  EXPECT_EQ(k.baseline, 2);
  EXPECT_EQ(k.weight, 5);
}

// ---- as_of ------------------------------------------------------------------

TEST_F(GoalsServiceTest, AsOfReturnsTheGoalAsItWasThen) {
  const std::string parent =
      Create(P("mia"), TeamGoal("platform", "Platform adoption"));
  const absl::Time created = now_;
  const std::string g =
      Create(P("ann"), PersonGoal("ann", "Onboard teams", parent),
             {Kr("teams onboarded", 100)});
  ASSERT_FALSE(HasFailure());
  const std::string kr = Krs(g)[0].id;

  now_ += absl::Hours(1);
  const absl::Time checked = now_;
  ASSERT_THAT(DoCheckIn(P("ann"), g, {{kr, 40}}), IsOk());
  now_ += absl::Hours(1);
  const absl::Time recalibrated = now_;
  KeyResult patch;
  patch.target = 50;
  ASSERT_THAT(svc().UpdateKeyResult(P("ann"), g, kr, patch, {"target"}, "",
                                    "half the teams merged"),
              IsOk());
  now_ += absl::Hours(1);

  EXPECT_THAT(svc().GetGoal(P("ann"), g, created - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kNotFound));

  auto at_create = svc().GetGoal(P("ann"), g, created + absl::Minutes(30));
  ASSERT_THAT(at_create, IsOk());
  EXPECT_EQ(at_create->goal.revision, 1);
  EXPECT_NEAR(at_create->goal.progress, 0, kEps);

  auto before = svc().GetGoal(P("ann"), g, recalibrated - absl::Minutes(30));
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ(before->goal.revision, 2);
  EXPECT_NEAR(before->goal.progress, 0.4, kEps);  // 40 of 100

  auto after = svc().GetGoal(P("ann"), g, recalibrated + absl::Minutes(30));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->goal.revision, 3);
  EXPECT_NEAR(after->goal.progress, 0.8, kEps);  // 40 of 50
  EXPECT_NEAR(Get(g).progress, 0.8, kEps);

  // The snapshots the service recorded carry the key results of the time.
  auto snap = repo_->SnapshotAt(
      g, absl::ToUnixMicros(recalibrated - absl::Minutes(30)));
  ASSERT_THAT(snap, IsOk());
  ASSERT_TRUE(snap->has_value());
  ASSERT_EQ((*snap)->key_results.size(), 1u);
  EXPECT_EQ((*snap)->key_results[0].target, 100);
  EXPECT_EQ((*snap)->key_results[0].current, 40);
  snap = repo_->SnapshotAt(g, absl::ToUnixMicros(now_));
  ASSERT_THAT(snap, IsOk());
  ASSERT_TRUE(snap->has_value());
  EXPECT_EQ((*snap)->key_results[0].target, 50);

  // The parent moved by roll-up only (no revision of its own), and its
  // progress as of then follows.
  EXPECT_EQ(Get(parent).revision, 1);
  auto p_then = svc().GetGoal(P("ann"), parent, checked + absl::Minutes(30));
  ASSERT_THAT(p_then, IsOk());
  EXPECT_NEAR(p_then->goal.progress, 0.4, kEps);
  auto p_now = svc().GetGoal(P("ann"), parent, now_);
  ASSERT_THAT(p_now, IsOk());
  EXPECT_NEAR(p_now->goal.progress, 0.8, kEps);

  // Reading the past needs the right to read the goal.
  Goal priv;
  priv.visibility = Visibility::kPrivate;
  ASSERT_THAT(svc().UpdateGoal(P("ann"), g, priv, {"visibility"}, "", ""),
              IsOk());
  EXPECT_THAT(svc().GetGoal(P("sue"), g, checked + absl::Minutes(30)),
              StatusIs(absl::StatusCode::kNotFound));
}

// A database written by an older binary (goals schema version 1: progress
// points in a table with an index beside it) keeps every point when opened,
// and two points of one goal at one time keep the later, as new ones do.
TEST(GoalsSchemaTest, ProgressPointsUpgradeKeepsHistoryAndTheLaterOfATie) {
  const std::string dir = ::sightline::testing::MakeTempDir("goals-upgrade");
  {
    auto old = ::sightline::testing::OpenMigratedSqlite(
        dir, "goals", {GoalsMigrations().front()});
    ASSERT_THAT(old, IsOk());
    ASSERT_THAT((*old)->Write("seed",
                              [](storage::Tx& tx) {
                                tx.sql()
                                    << "INSERT INTO goal_progress (goal_id, "
                                       "time, progress) VALUES ('g', 10, 0.1), "
                                       "('g', 20, 0.2), ('g', 20, 0.25), "
                                       "('h', 20, 0.5)";
                                return absl::OkStatus();
                              }),
                IsOk());
  }
  auto db =
      ::sightline::testing::OpenMigratedSqlite(dir, "goals", GoalsMigrations());
  ASSERT_THAT(db, IsOk());
  auto points = [&] {
    std::vector<std::string> out;
    EXPECT_THAT((*db)->Read("points",
                            [&](soci::session& sql) {
                              std::string g;
                              long long t = 0;
                              double p = 0;
                              soci::statement st =
                                  (sql.prepare << "SELECT goal_id, time, "
                                                  "progress FROM goal_progress "
                                                  "ORDER BY goal_id, time",
                                   soci::into(g), soci::into(t), soci::into(p));
                              st.execute();
                              while (st.fetch())
                                out.push_back(absl::StrCat(g, "@", t, "=", p));
                              return absl::OkStatus();
                            }),
                IsOk());
    return out;
  };
  EXPECT_THAT(points(), ElementsAre("g@10=0.1", "g@20=0.25", "h@20=0.5"));
  SqlGoalRepository repo(db->get());
  ASSERT_THAT(repo.Write(
                  "points",
                  [](GoalTx& tx) -> absl::Status {
                    if (auto s = tx.RecordProgress("h", 30, 0.6); !s.ok())
                      return s;
                    return tx.RecordProgress("h", 30, 0.7);
                  },
                  /*last_seq=*/nullptr),
              IsOk());
  EXPECT_THAT(points(),
              ElementsAre("g@10=0.1", "g@20=0.25", "h@20=0.5", "h@30=0.7"));
  db->reset();
  ::sightline::testing::RemoveTree(dir);
}

// ---- history ----------------------------------------------------------------

TEST_F(GoalsServiceTest, EveryChangeIsARevisionListedOldestFirst) {
  GoalsOptions o;
  o.approval_required = true;
  MakeService(o);
  const std::string g = Create(P("ann"), PersonGoal("ann", "Learn Rust"));
  ASSERT_FALSE(g.empty());
  ASSERT_EQ(Get(g).state, GoalState::kPendingApproval);

  ASSERT_THAT(svc().ReturnGoal(P("mia"), g, "", "make it measurable"), IsOk());
  Goal patch;
  patch.title = "Ship one Rust service";
  patch.state = GoalState::kActive;
  ASSERT_THAT(svc().UpdateGoal(P("ann"), g, patch, {"title", "state"}, "", ""),
              IsOk());
  ASSERT_THAT(svc().ApproveGoal(P("mia"), g, "", "good"), IsOk());
  auto k1 =
      svc().CreateKeyResult(P("ann"), g, Kr("services", 1), "", Idempotency{});
  ASSERT_THAT(k1, IsOk());
  KeyResult kp;
  kp.target = 2;
  ASSERT_THAT(svc().UpdateKeyResult(P("ann"), g, k1->id, kp, {"target"}, "",
                                    "two services"),
              IsOk());
  auto k2 =
      svc().CreateKeyResult(P("ann"), g, Kr("talks", 1), "", Idempotency{});
  ASSERT_THAT(k2, IsOk());
  ASSERT_THAT(svc().DeleteKeyResult(P("ann"), g, k2->id, "", "no talks"),
              IsOk());
  ASSERT_THAT(DoCheckIn(P("ann"), g, {{k1->id, 1}}, "first one is live"),
              IsOk());
  ASSERT_THAT(svc().CloseCycle(Hr(), q1_, ""), IsOk());

  const std::vector<Revision> all = History(g);
  EXPECT_THAT(Actions(all),
              ElementsAre("CREATE", "RETURN", "UPDATE", "APPROVE", "CREATE",
                          "UPDATE", "CREATE", "DELETE", "CHECK_IN", "CLOSE"));
  ASSERT_EQ(all.size(), 10u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].revision, static_cast<int64_t>(i + 1));
    EXPECT_EQ(all[i].goal_id, g);
  }
  EXPECT_EQ(Get(g).revision, 10);
  EXPECT_EQ(all[0].actor, "people/ann");
  EXPECT_EQ(all[1].actor, "people/mia");
  EXPECT_EQ(all[1].reason, "make it measurable");
  EXPECT_EQ(all[3].reason, "good");
  EXPECT_EQ(all[4].target, absl::StrCat("goals/", g, "/keyResults/", k1->id));
  EXPECT_EQ(all[5].reason, "two services");
  EXPECT_EQ(all[7].target, absl::StrCat("goals/", g, "/keyResults/", k2->id));
  EXPECT_EQ(all[7].reason, "no talks");
  EXPECT_EQ(all[8].reason, "first one is live");
  ASSERT_EQ(all[8].changes.size(), 1u);
  EXPECT_EQ(all[8].changes[0].old_value, "0");
  EXPECT_EQ(all[8].changes[0].new_value, "1");
  EXPECT_EQ(all[9].actor, "people/hana");

  // Pages of 4, each continuing after the last revision seen.
  std::vector<int64_t> paged;
  Page page{"", 4};
  for (int i = 0; i < 10; ++i) {
    auto got = svc().ListRevisions(P("ann"), g, page);
    ASSERT_THAT(got, IsOk());
    EXPECT_LE(got->size(), 4u);
    if (got->empty()) break;
    for (const auto& r : *got) paged.push_back(r.revision);
    page.after = absl::StrCat(got->back().revision);
  }
  EXPECT_THAT(paged, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
}

// What was written while a goal was PRIVATE stays with those who could read
// it then, after it is made PUBLIC: in its revisions and in GetGoal as_of.
TEST_F(GoalsServiceTest, HistoryIsReadUnderTheVisibilityItWasWrittenWith) {
  Goal pg = PersonGoal("ann", "Leave for a competitor");
  pg.visibility = Visibility::kPrivate;
  const std::string g = Create(P("ann"), pg, {Kr("offers", 3)});
  ASSERT_FALSE(HasFailure());
  const std::string kr = Krs(g)[0].id;
  now_ += absl::Hours(1);
  ASSERT_THAT(DoCheckIn(P("ann"), g, {{kr, 1}}), IsOk());  // revision 2
  const absl::Time secret = now_ + absl::Minutes(30);
  now_ += absl::Hours(1);
  Goal title;
  title.title = "Grow in the platform team";
  ASSERT_THAT(svc().UpdateGoal(P("ann"), g, title, {"title"}, "", "rethought"),
              IsOk());  // revision 3, still private
  now_ += absl::Hours(1);
  Goal open;
  open.visibility = Visibility::kPublic;
  open.title = "Grow in platform";
  ASSERT_THAT(
      svc().UpdateGoal(P("ann"), g, open, {"title", "visibility"}, "", "share"),
      IsOk());  // revision 4
  const absl::Time shared = now_ + absl::Minutes(30);
  now_ += absl::Hours(1);
  ASSERT_THAT(DoCheckIn(P("ann"), g, {{kr, 2}}), IsOk());  // revision 5
  now_ += absl::Hours(1);

  auto revisions = [&](const Caller& who, int page_size) {
    std::vector<int64_t> seen;
    Page page{"", page_size};
    for (int i = 0; i < 10; ++i) {
      auto got = svc().ListRevisions(who, g, page);
      EXPECT_THAT(got, IsOk());
      if (!got.ok() || got->empty()) break;
      for (const auto& r : *got) seen.push_back(r.revision);
      if (got->size() < static_cast<size_t>(page_size)) break;
      page.after = absl::StrCat(got->back().revision);
    }
    return seen;
  };
  // bob, ann's peer, reads the goal now, and only what was written since it
  // was shared; a full page is full, whatever its size.
  EXPECT_THAT(revisions(P("bob"), 100), ElementsAre(4, 5));
  EXPECT_THAT(revisions(P("bob"), 1), ElementsAre(4, 5));
  auto first = svc().ListRevisions(P("bob"), g, Page{"", 1});
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->size(), 1u);
  // ann and her manager could read it all along; hr_admin reads PRIVATE goals.
  EXPECT_THAT(revisions(P("ann"), 2), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(revisions(P("mia"), 100), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(revisions(Hr(), 100), ElementsAre(1, 2, 3, 4, 5));

  // The revision that shared it shows bob the new title, not the old one.
  auto title_change = [&](const Caller& who) {
    auto got = svc().ListRevisions(who, g, Page{"3", 1});
    EXPECT_THAT(got, IsOk());
    FieldChange found;
    if (got.ok() && got->size() == 1) {
      for (const auto& c : (*got)[0].changes)
        if (c.field == "title") found = c;
    }
    return found;
  };
  EXPECT_EQ(title_change(P("bob")).new_value, "Grow in platform");
  EXPECT_EQ(title_change(P("bob")).old_value, "");
  EXPECT_EQ(title_change(P("ann")).old_value, "Grow in the platform team");
  // Check-ins the same way: bob sees the one made after it was shared.
  auto check_ins = [&](const Caller& who, int page_size) {
    std::vector<double> values;
    Page page{"", page_size};
    for (int i = 0; i < 10; ++i) {
      auto got = svc().ListCheckIns(who, g, page);
      EXPECT_THAT(got, IsOk());
      if (!got.ok() || got->empty()) break;
      for (const auto& c : *got) values.push_back(c.values.at(0).value);
      if (got->size() < static_cast<size_t>(page_size)) break;
      page.after = absl::StrCat(got->back().create_time, "/", got->back().id);
    }
    return values;
  };
  EXPECT_THAT(check_ins(P("bob"), 100), ElementsAre(2));
  EXPECT_THAT(check_ins(P("bob"), 1), ElementsAre(2));
  EXPECT_THAT(check_ins(P("ann"), 1), ElementsAre(2, 1));

  EXPECT_THAT(svc().GetGoal(P("bob"), g, secret),
              StatusIs(absl::StatusCode::kPermissionDenied));
  auto mine = svc().GetGoal(P("ann"), g, secret);
  ASSERT_THAT(mine, IsOk());
  EXPECT_EQ(mine->goal.title, "Leave for a competitor");
  auto then = svc().GetGoal(P("bob"), g, shared);
  ASSERT_THAT(then, IsOk());
  EXPECT_EQ(then->goal.title, "Grow in platform");
}

// ---- idempotency ------------------------------------------------------------

TEST_F(GoalsServiceTest, RetriedCheckInIsAppliedOnce) {
  const std::string g = Create(P("ann"), PersonGoal("ann", "Fix flaky tests"),
                               {Kr("tests fixed", 100)});
  ASSERT_FALSE(g.empty());
  const std::string kr = Krs(g)[0].id;
  int notified = 0;
  GoalsOptions o;
  o.on_check_in = [&](const std::string& cycle) {
    EXPECT_EQ(cycle, q1_);
    ++notified;
  };
  MakeService(o);

  Idempotency idem;
  idem.scope = "CreateCheckIn/people/ann";
  idem.request_id = "req-1";
  idem.fingerprint = "fp-30";
  auto first = DoCheckIn(P("ann"), g, {{kr, 30}}, "", idem);
  ASSERT_THAT(first, IsOk());
  // Another check-in in between; the retry must not undo it.
  now_ += absl::Minutes(5);
  ASSERT_THAT(DoCheckIn(P("ann"), g, {{kr, 50}}), IsOk());
  now_ += absl::Minutes(5);
  auto retry = DoCheckIn(P("ann"), g, {{kr, 30}}, "", idem);
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->id, first->id);
  EXPECT_EQ(retry->create_time, first->create_time);
  EXPECT_NEAR(retry->progress, 0.3, kEps);
  EXPECT_EQ(Krs(g)[0].current, 50);
  EXPECT_NEAR(Get(g).progress, 0.5, kEps);
  EXPECT_THAT(Actions(History(g)),
              ElementsAre("CREATE", "CHECK_IN", "CHECK_IN"));
  auto list = svc().ListCheckIns(P("ann"), g, Page{"", 100});
  ASSERT_THAT(list, IsOk());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(notified, 2);

  // The same id for a different check-in.
  idem.fingerprint = "fp-99";
  EXPECT_THAT(DoCheckIn(P("ann"), g, {{kr, 99}}, "", idem),
              InvalidNaming("request_id"));
  EXPECT_EQ(Krs(g)[0].current, 50);
  EXPECT_EQ(History(g).size(), 3u);
  EXPECT_EQ(notified, 2);
}

// Bug: a retried check-in is answered from its idempotency record only after
// the goal's state was checked, so a retry after the goal moved on fails.
TEST_F(GoalsServiceTest, RetriedCheckInAfterTheGoalMovedOnGetsTheFirstAnswer) {
  const std::string g =
      Create(P("ann"), PersonGoal("ann", "Finish"), {Kr("k", 10)});
  ASSERT_FALSE(g.empty());
  const std::string kr = Krs(g)[0].id;
  Idempotency idem;
  idem.scope = "CreateCheckIn/people/ann";
  idem.request_id = "req-done";
  idem.fingerprint = "fp";
  auto first = DoCheckIn(P("ann"), g, {{kr, 10}}, "done", idem);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(SetState(P("ann"), g, GoalState::kCompleted), IsOk());
  auto retry = DoCheckIn(P("ann"), g, {{kr, 10}}, "done", idem);
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->id, first->id);
}

TEST_F(GoalsServiceTest, RetriedCreateGoalCreatesOneGoal) {
  const std::string parent = Create(P("mia"), TeamGoal("platform", "Parent"));
  ASSERT_FALSE(parent.empty());
  Idempotency idem;
  idem.scope = "CreateGoal/people/mia";
  idem.request_id = "create-1";
  idem.fingerprint = "fp-a";
  auto first = svc().CreateGoal(P("mia"), PersonGoal("ann", "Goal", parent),
                                {Kr("k", 10, 1, 5)}, idem);
  ASSERT_THAT(first, IsOk());
  auto retry = svc().CreateGoal(P("mia"), PersonGoal("ann", "Goal", parent),
                                {Kr("k", 10, 1, 5)}, idem);
  ASSERT_THAT(retry, IsOk());
  EXPECT_EQ(retry->goal.id, first->goal.id);

  GoalFilter f;
  f.parent_id = parent;
  EXPECT_THAT(Ids(ListAll(Svc(), f)), ElementsAre(first->goal.id));
  EXPECT_EQ(History(first->goal.id).size(), 1u);
  EXPECT_EQ(Krs(first->goal.id).size(), 1u);
  EXPECT_NEAR(Get(parent).child_weight, 1, kEps);
  EXPECT_NEAR(Get(parent).progress, 0.5, kEps);

  idem.fingerprint = "fp-b";
  EXPECT_THAT(
      svc().CreateGoal(P("mia"), PersonGoal("bob", "Other", parent), {}, idem),
      InvalidNaming("request_id"));
  EXPECT_EQ(ListAll(Svc(), f).size(), 1u);
}

// ---- approval ---------------------------------------------------------------

TEST_F(GoalsServiceTest, SelfSetGoalsWaitForAManager) {
  GoalsOptions o;
  o.approval_required = true;
  MakeService(o);

  const std::string own = Create(P("ann"), PersonGoal("ann", "Own goal"));
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(Get(own).state, GoalState::kPendingApproval);
  // A manager setting a goal for a report: ACTIVE at once.
  const std::string set = Create(P("mia"), PersonGoal("bob", "Set by mia"));
  EXPECT_EQ(Get(set).state, GoalState::kActive);
  // A DRAFT the owner activates is submitted instead.
  Goal d = PersonGoal("ann", "Drafted");
  d.state = GoalState::kDraft;
  const std::string draft = Create(P("ann"), d);
  ASSERT_EQ(Get(draft).state, GoalState::kDraft);
  auto submitted = SetState(P("ann"), draft, GoalState::kActive);
  ASSERT_THAT(submitted, IsOk());
  EXPECT_EQ(submitted->goal.state, GoalState::kPendingApproval);
  EXPECT_EQ(Get(draft).state, GoalState::kPendingApproval);
  // ...and cannot activate itself.
  EXPECT_THAT(SetState(P("ann"), draft, GoalState::kActive),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  EXPECT_THAT(svc().ApproveGoal(P("bob"), own, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));  // a peer
  EXPECT_THAT(svc().ApproveGoal(P("ann"), own, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));  // the owner
  EXPECT_THAT(svc().ApproveGoal(P("sue"), own, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().ApproveGoal(Hr(), own, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Get(own).state, GoalState::kPendingApproval);

  const int64_t before = absl::ToUnixMicros(now_);
  now_ += absl::Hours(2);
  auto approved = svc().ApproveGoal(P("mia"), own, "", "");
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->goal.state, GoalState::kActive);
  EXPECT_EQ(Get(own).state, GoalState::kActive);
  EXPECT_GT(Get(own).activate_time, before);
  EXPECT_THAT(svc().ApproveGoal(P("mia"), own, "", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // A skip-level manager may decide too.
  EXPECT_THAT(svc().ApproveGoal(P("victor"), draft, "", "go"), IsOk());
  EXPECT_EQ(Get(draft).state, GoalState::kActive);

  // Returning needs a comment, which the goal keeps.
  const std::string other = Create(P("ann"), PersonGoal("ann", "Vague goal"));
  ASSERT_EQ(Get(other).state, GoalState::kPendingApproval);
  EXPECT_THAT(svc().ReturnGoal(P("mia"), other, "", ""),
              InvalidNaming("comment"));
  auto returned =
      svc().ReturnGoal(P("mia"), other, "", "add a key result, please");
  ASSERT_THAT(returned, IsOk());
  EXPECT_EQ(Get(other).state, GoalState::kDraft);
  EXPECT_EQ(Get(other).approval_comment, "add a key result, please");
  EXPECT_EQ(History(other).back().action, "RETURN");

  // The people service has the last word: no decision while it is down.
  const std::string waiting = Create(P("bob"), PersonGoal("bob", "Waiting"));
  ASSERT_EQ(Get(waiting).state, GoalState::kPendingApproval);
  org_.set_down(true);
  EXPECT_THAT(svc().ApproveGoal(P("mia"), waiting, "", ""),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(svc().ReturnGoal(P("mia"), waiting, "", "no"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Get(waiting).state, GoalState::kPendingApproval);
  EXPECT_EQ(Get(waiting).revision, 1);
}

// ---- the people service -----------------------------------------------------

TEST_F(GoalsServiceTest, PeopleServiceDownReadsWorkPeopleWritesFail) {
  const std::string c = Create(P("cora"), CompanyGoal("Company"));
  const std::string g =
      Create(P("ann"), PersonGoal("ann", "Ann's goal", ""), {Kr("k", 10)});
  ASSERT_FALSE(HasFailure());
  const int64_t rev = Get(g).revision;
  org_.set_down(true);
  const int fresh_before = org_.fresh_calls();

  EXPECT_THAT(svc().GetGoal(P("sue"), g), IsOk());
  std::string cursor;
  auto listed = svc().ListGoals(P("sue"), GoalFilter{}, Page{"", 100}, &cursor);
  ASSERT_THAT(listed, IsOk());
  EXPECT_THAT(Ids(*listed), UnorderedElementsAre(c, g));
  TreeRoot root;
  root.kind = TreeRoot::Kind::kCompany;
  root.cycle_id = q1_;
  auto tree = svc().AlignmentTree(P("sue"), root, 0);
  ASSERT_THAT(tree, IsOk());
  ASSERT_EQ(tree->size(), 1u);
  EXPECT_EQ((*tree)[0].id, c);
  EXPECT_EQ(org_.fresh_calls(), fresh_before);  // reads use the replica

  EXPECT_THAT(
      svc().CreateGoal(P("ann"), PersonGoal("ann", "New"), {}, Idempotency{}),
      StatusIs(absl::StatusCode::kUnavailable));
  Goal patch;
  patch.contributor_ids = {"bob"};
  EXPECT_THAT(svc().UpdateGoal(P("ann"), g, patch, {"contributors"}, "", ""),
              StatusIs(absl::StatusCode::kUnavailable));
  Goal to_team;
  to_team.owner.team_id = "platform";
  EXPECT_THAT(svc().UpdateGoal(P("mia"), g, to_team, {"owner"}, "", ""),
              StatusIs(absl::StatusCode::kUnavailable));
  // Nothing was written.
  EXPECT_EQ(ListAll(Svc(), GoalFilter{}).size(), 2u);
  EXPECT_EQ(Get(g).revision, rev);
  EXPECT_TRUE(Get(g).contributor_ids.empty());
  EXPECT_EQ(Get(g).owner.person_id, "ann");
  EXPECT_EQ(History(g).size(), 1u);

  // Writes that name nobody new need no fresh check.
  Goal title;
  title.title = "Ann's renamed goal";
  EXPECT_THAT(svc().UpdateGoal(P("ann"), g, title, {"title"}, "", ""), IsOk());
  EXPECT_THAT(DoCheckIn(P("ann"), g, {{Krs(g)[0].id, 5}}), IsOk());

  org_.set_down(false);
  EXPECT_THAT(svc().UpdateGoal(P("ann"), g, patch, {"contributors"}, "", ""),
              IsOk());
  EXPECT_THAT(Get(g).contributor_ids, ElementsAre("bob"));
}

TEST_F(GoalsServiceTest, UnknownOrDepartedPeopleAreRefusedByField) {
  Goal g = PersonGoal("ann", "With helpers");
  g.contributor_ids = {"bob", "zed"};
  EXPECT_THAT(svc().CreateGoal(P("ann"), g, {}, Idempotency{}),
              InvalidNaming("goal.contributors[1]"));
  g.contributor_ids = {"carl", "bob"};  // carl has left
  auto left = svc().CreateGoal(P("ann"), g, {}, Idempotency{});
  EXPECT_THAT(left, InvalidNaming("goal.contributors[0]"));
  for (const auto& v : status::FieldViolations(left.status())) {
    EXPECT_NE(v.field, "goal.contributors[1]");
  }
  Goal stranger = PersonGoal("zed", "Nobody's");
  EXPECT_THAT(svc().CreateGoal(Svc(), stranger, {}, Idempotency{}),
              InvalidNaming("goal.owner"));
  Goal team = NewGoal("Ghost team");
  team.owner.team_id = "ghosts";
  team.level = Level::kTeam;
  EXPECT_THAT(svc().CreateGoal(Svc(), team, {}, Idempotency{}),
              InvalidNaming("goal.owner"));
  EXPECT_TRUE(ListAll(Svc(), GoalFilter{}).empty());

  // On update: only newly named people are checked.
  g.contributor_ids = {"bob"};
  const std::string id = Create(P("ann"), g);
  ASSERT_FALSE(id.empty());
  Goal patch;
  patch.contributor_ids = {"bob", "zed"};
  EXPECT_THAT(svc().UpdateGoal(P("ann"), id, patch, {"contributors"}, "", ""),
              InvalidNaming("goal.contributors[1]"));
  EXPECT_THAT(Get(id).contributor_ids, ElementsAre("bob"));
}

// ---- permissions ------------------------------------------------------------

TEST_F(GoalsServiceTest, WhoMayReadEditAndCheckIn) {
  Goal pub = PersonGoal("ann", "Public goal");
  pub.contributor_ids = {"bob"};
  const std::string g = Create(P("ann"), pub, {Kr("k", 10)});
  Goal priv = PersonGoal("ann", "Private goal");
  priv.visibility = Visibility::kPrivate;
  const std::string h = Create(P("ann"), priv, {Kr("k", 10)});
  ASSERT_FALSE(HasFailure());
  const std::string kg = Krs(g)[0].id;

  Goal patch;
  patch.title = "Hijacked";
  // A stranger reads the PUBLIC goal but may not change it.
  EXPECT_THAT(svc().GetGoal(P("sue"), g), IsOk());
  EXPECT_THAT(svc().UpdateGoal(P("sue"), g, patch, {"title"}, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().DeleteGoal(P("sue"), g, ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(DoCheckIn(P("sue"), g, {{kg, 1}}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().CreateKeyResult(P("sue"), g, Kr("x", 1), "", Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().CreateGoal(P("sue"), PersonGoal("ann", "For ann"), {},
                               Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // The PRIVATE goal does not exist for her (nor for a peer).
  for (const char* who : {"sue", "bob", "sam"}) {
    SCOPED_TRACE(who);
    EXPECT_THAT(svc().GetGoal(P(who), h),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(svc().UpdateGoal(P(who), h, patch, {"title"}, "", ""),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(svc().ListRevisions(P(who), h, Page{}),
                StatusIs(absl::StatusCode::kNotFound));
    EXPECT_THAT(svc().ListKeyResults(P(who), h),
                StatusIs(absl::StatusCode::kNotFound));
  }
  EXPECT_THAT(svc().GetGoal(P("mia"), h), IsOk());     // her manager
  EXPECT_THAT(svc().GetGoal(P("victor"), h), IsOk());  // skip-level
  EXPECT_THAT(svc().GetGoal(Hr(), h), IsOk());
  EXPECT_EQ(Get(g).title, "Public goal");

  // A contributor checks in but does not edit.
  EXPECT_THAT(DoCheckIn(P("bob"), g, {{kg, 4}}), IsOk());
  EXPECT_NEAR(Get(g).progress, 0.4, kEps);
  EXPECT_THAT(svc().UpdateGoal(P("bob"), g, patch, {"title"}, "", ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  KeyResult kp;
  kp.target = 5;
  EXPECT_THAT(
      svc().UpdateKeyResult(P("bob"), g, kg, kp, {"target"}, "", "easier"),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().DeleteKeyResult(P("bob"), g, kg, "", "gone"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Krs(g)[0].target, 10);
  // A departed person keeps nothing but PUBLIC reads.
  EXPECT_THAT(DoCheckIn(P("carl"), g, {{kg, 9}}),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // Who cannot read a parent cannot attach to it: it "does not exist".
  EXPECT_THAT(svc().CreateGoal(P("sue"), PersonGoal("sue", "Under h", h), {},
                               Idempotency{}),
              InvalidNaming("goal.parent"));
  const std::string mine = Create(P("sue"), PersonGoal("sue", "Sue's goal"));
  ASSERT_FALSE(mine.empty());
  Goal move;
  move.parent_id = h;
  EXPECT_THAT(svc().UpdateGoal(P("sue"), mine, move, {"parent"}, "", "align"),
              InvalidNaming("goal.parent"));
  EXPECT_EQ(Get(mine).parent_id, "");
  EXPECT_NEAR(Get(h).child_weight, 0, kEps);
  // Whoever reads it may attach to it: ann herself.
  EXPECT_FALSE(Create(P("ann"), PersonGoal("ann", "Under h", h)).empty());
  EXPECT_NEAR(Get(h).child_weight, 1, kEps);
}

// ---- state rules ------------------------------------------------------------

TEST_F(GoalsServiceTest, StateRulesAreEnforced) {
  Goal d = PersonGoal("ann", "Draft");
  d.state = GoalState::kDraft;
  const std::string draft = Create(P("ann"), d, {Kr("k", 10)});
  const std::string active = Create(P("ann"), PersonGoal("ann", "Active"));
  ASSERT_FALSE(HasFailure());

  EXPECT_THAT(DoCheckIn(P("ann"), draft, {{Krs(draft)[0].id, 5}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A value for a key result of another goal: nothing is written.
  EXPECT_THAT(DoCheckIn(P("ann"), active, {{Krs(draft)[0].id, 5}}),
              InvalidNaming("check_in.values[0].key_result"));
  EXPECT_EQ(History(active).size(), 1u);
  auto none = svc().ListCheckIns(P("ann"), active, Page{"", 10});
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(Krs(draft)[0].current, 0);
  EXPECT_THAT(svc().DeleteGoal(P("ann"), active, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SetState(P("ann"), active, GoalState::kDraft),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(SetState(P("ann"), active, GoalState::kCompleted), IsOk());
  EXPECT_THAT(DoCheckIn(P("ann"), active, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // A DRAFT with a child is not deleted; without one it is.
  Goal child = PersonGoal("ann", "Child of a draft", draft);
  child.state = GoalState::kDraft;
  const std::string kid = Create(P("ann"), child);
  ASSERT_FALSE(kid.empty());
  EXPECT_THAT(svc().DeleteGoal(P("ann"), draft, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(svc().GetGoal(Svc(), draft), IsOk());
  EXPECT_THAT(svc().DeleteGoal(P("ann"), kid, ""), IsOk());
  EXPECT_THAT(svc().DeleteGoal(P("ann"), draft, ""), IsOk());
  EXPECT_THAT(svc().GetGoal(Svc(), draft),
              StatusIs(absl::StatusCode::kNotFound));

  // A cancelled goal takes no new children.
  const std::string cancelled = Create(P("ann"), PersonGoal("ann", "Dropped"));
  ASSERT_THAT(SetState(P("ann"), cancelled, GoalState::kCancelled), IsOk());
  EXPECT_THAT(svc().CreateGoal(P("ann"), PersonGoal("ann", "Late", cancelled),
                               {}, Idempotency{}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// ---- alignment --------------------------------------------------------------

TEST_F(GoalsServiceTest, AlignmentIsCheckedOnCreateAndMove) {
  const std::string q2 = MakeCycle("2025 Q2", "2025-04-01", "2025-06-30");
  const std::string c = Create(P("cora"), CompanyGoal("Company"));
  Goal tg = TeamGoal("platform", "Team", c);
  tg.due_date = "2025-02-28";
  const std::string t = Create(P("mia"), tg);
  Goal ag = PersonGoal("ann", "Ann", t);
  ag.due_date = "2025-02-20";
  const std::string a = Create(P("ann"), ag);
  ASSERT_FALSE(HasFailure());

  // A child without dates takes its cycle's window, which ends after T's.
  EXPECT_THAT(svc().CreateGoal(P("ann"), PersonGoal("ann", "Undated", t), {},
                               Idempotency{}),
              InvalidNaming("goal.cycle"));
  // Another cycle's window is outside the parent's.
  Goal later = PersonGoal("ann", "Next quarter", t);
  later.cycle_id = q2;
  EXPECT_THAT(svc().CreateGoal(P("ann"), later, {}, Idempotency{}),
              InvalidNaming("goal.cycle"));
  // Own dates past the parent's due date.
  Goal late = PersonGoal("ann", "Late", t);
  late.due_date = "2025-03-20";
  EXPECT_THAT(svc().CreateGoal(P("ann"), late, {}, Idempotency{}),
              InvalidNaming("goal.due_date"));
  Goal patch;
  patch.due_date = "2025-03-20";
  EXPECT_THAT(
      svc().UpdateGoal(P("ann"), a, patch, {"due_date"}, "", "needs time"),
      InvalidNaming("goal.due_date"));

  // No cycles in the tree.
  Goal up;
  up.parent_id = a;
  EXPECT_THAT(svc().UpdateGoal(P("mia"), t, up, {"parent"}, "", "reorg"),
              InvalidNaming("goal.parent"));
  up.parent_id = t;
  EXPECT_THAT(svc().UpdateGoal(P("mia"), t, up, {"parent"}, "", "reorg"),
              InvalidNaming("goal.parent"));
  EXPECT_EQ(Get(t).parent_id, c);
  EXPECT_NEAR(Get(a).child_weight, 0, kEps);

  // A COMPANY goal has no parent.
  Goal sub = CompanyGoal("Sub-company");
  sub.parent_id = c;
  EXPECT_THAT(svc().CreateGoal(P("cora"), sub, {}, Idempotency{}),
              InvalidNaming("goal.parent"));
  const std::string c2 = Create(P("cora"), CompanyGoal("Second company goal"));
  Goal under;
  under.parent_id = c;
  EXPECT_THAT(svc().UpdateGoal(P("cora"), c2, under, {"parent"}, "", "nesting"),
              InvalidNaming("goal.parent"));
  EXPECT_NEAR(Get(c).child_weight, 1, kEps);
}

// Reading a goal does not let a caller hang a child under it (a child moves
// the parent's progress): a peer or someone in another team who reads ann's
// PUBLIC goal may neither create a child under it nor move a goal there;
// her manager and the team's goal owner may.
TEST_F(GoalsServiceTest, ReadingAGoalIsNotEnoughToAlignUnderIt) {
  Goal ag = PersonGoal("ann", "Ann's public goal");
  ag.visibility = Visibility::kPublic;
  const std::string a = Create(P("ann"), ag);
  const std::string b = Create(P("bob"), PersonGoal("bob", "Bob's goal"));
  ASSERT_FALSE(HasFailure());
  ASSERT_THAT(svc().GetGoal(P("sue"), a), IsOk());  // everyone reads it

  for (const char* who : {"bob", "sue"}) {
    SCOPED_TRACE(who);
    auto child = svc().CreateGoal(P(who), PersonGoal(who, "Under ann", a), {},
                                  Idempotency{});
    EXPECT_THAT(child, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(child.status().message(), HasSubstr("goal.parent"));
  }
  auto hr =
      svc().CreateGoal(Hr(), PersonGoal("bob", "Via hr", a), {}, Idempotency{});
  EXPECT_THAT(hr, StatusIs(absl::StatusCode::kPermissionDenied));
  Goal move;
  move.parent_id = a;
  EXPECT_THAT(svc().UpdateGoal(P("bob"), b, move, {"parent"}, "", "align"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Get(b).parent_id, "");
  EXPECT_NEAR(Get(a).child_weight, 0, kEps);

  // A missing parent is still INVALID_ARGUMENT, as before.
  EXPECT_THAT(svc().CreateGoal(P("bob"), PersonGoal("bob", "x", "nope"), {},
                               Idempotency{}),
              InvalidNaming("goal.parent"));
  // The manager aligns her report's goal under ann's; the move is allowed.
  Create(P("mia"), PersonGoal("mia", "Mia under ann", a));
  EXPECT_THAT(svc().UpdateGoal(P("mia"), b, move, {"parent"}, "", "align"),
              IsOk());
  EXPECT_NEAR(Get(a).child_weight, 2, kEps);
}

// Bug: UpdateGoal re-checks alignment only when the parent, cycle or dates
// change, so a goal with a parent can be turned into a COMPANY goal.
TEST_F(GoalsServiceTest, LevelChangeToCompanyKeepsTheNoParentRule) {
  const std::string c = Create(P("cora"), CompanyGoal("Company"));
  const std::string t = Create(P("mia"), TeamGoal("platform", "Team", c));
  ASSERT_FALSE(HasFailure());
  Goal patch;
  patch.level = Level::kCompany;
  EXPECT_THAT(svc().UpdateGoal(P("mia"), t, patch, {"level"}, "", ""),
              InvalidNaming("goal.parent"));
  EXPECT_EQ(Get(t).level, Level::kTeam);
}

// Bug: shrinking a parent's window is not checked against its children.
TEST_F(GoalsServiceTest, ParentWindowCannotShrinkBelowItsChildren) {
  const std::string t = Create(P("mia"), TeamGoal("platform", "Team"));
  Goal child = PersonGoal("ann", "Child", t);
  child.due_date = "2025-03-20";
  const std::string a = Create(P("ann"), child);
  ASSERT_FALSE(HasFailure());
  Goal patch;
  patch.due_date = "2025-02-28";
  EXPECT_THAT(svc().UpdateGoal(P("mia"), t, patch, {"due_date"}, "", "earlier"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Get(t).due_date, "");
  EXPECT_EQ(Get(a).due_date, "2025-03-20");
}

// ---- closing a cycle --------------------------------------------------------

TEST_F(GoalsServiceTest, CloseCycleFreezesScoresAndOutcomes) {
  auto goal = [&](const std::string& owner, const std::string& title, Kind kind,
                  double current) {
    Goal g = PersonGoal(owner, title);
    g.kind = kind;
    if (kind == Kind::kExperiment) g.hypothesis = "pairing halves bugs";
    return Create(P(owner), g, {Kr("k", 10, 1, current)});
  };
  const std::string done = goal("ann", "Done", Kind::kCommitted, 10);
  const std::string half = goal("bob", "Half", Kind::kCommitted, 5);
  const std::string stretch_ok = goal("ann", "Stretch ok", Kind::kStretch, 7);
  const std::string stretch_low = goal("bob", "Stretch low", Kind::kStretch, 6);
  const std::string experiment = goal("ann", "Try", Kind::kExperiment, 0);
  const std::string completed = goal("bob", "Completed", Kind::kCommitted, 10);
  Goal d = PersonGoal("ann", "Never started");
  d.state = GoalState::kDraft;
  const std::string draft = Create(P("ann"), d, {Kr("k", 10, 1, 3)});
  ASSERT_FALSE(HasFailure());
  ASSERT_THAT(SetState(P("bob"), completed, GoalState::kCompleted), IsOk());

  EXPECT_THAT(svc().CloseCycle(P("mia"), q1_, ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(svc().CloseCycle(P("cora"), q1_, ""),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(Get(done).score.has_value());

  auto open = svc().GetCycle(Hr(), q1_);
  ASSERT_THAT(open, IsOk());
  Cycle stale = *open;
  stale.revision -= 1;
  EXPECT_THAT(svc().CloseCycle(Hr(), q1_, svc().Etag(stale)),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_FALSE(Get(done).score.has_value());

  now_ += absl::Hours(1);
  auto closed = svc().CloseCycle(Hr(), q1_, svc().Etag(*open));
  ASSERT_THAT(closed, IsOk());
  EXPECT_EQ(closed->state, CycleState::kClosed);
  EXPECT_EQ(closed->close_time, absl::ToUnixMicros(now_));
  auto cycle = svc().GetCycle(P("ann"), q1_);
  ASSERT_THAT(cycle, IsOk());
  EXPECT_EQ(cycle->state, CycleState::kClosed);

  struct Want {
    std::string id;
    std::optional<double> score;
    Outcome outcome;
  };
  for (const Want& w :
       std::vector<Want>{{done, 1.0, Outcome::kAchieved},
                         {half, 0.5, Outcome::kMissed},
                         {stretch_ok, 0.7, Outcome::kAchieved},
                         {stretch_low, 0.6, Outcome::kMissed},
                         {experiment, 0.0, Outcome::kConcluded},
                         {completed, 1.0, Outcome::kAchieved},
                         {draft, std::nullopt, Outcome::kUnspecified}}) {
    SCOPED_TRACE(Get(w.id).title);
    Goal g = Get(w.id);
    ASSERT_EQ(g.score.has_value(), w.score.has_value());
    if (w.score) {
      EXPECT_NEAR(*g.score, *w.score, kEps);
    }
    EXPECT_EQ(g.outcome, w.outcome);
  }
  EXPECT_EQ(History(half).back().action, "CLOSE");
  EXPECT_EQ(History(half).back().reason, "cycle closed");
  EXPECT_EQ(History(draft).back().action, "CREATE");

  // Frozen.
  const std::string kr = Krs(half)[0].id;
  EXPECT_THAT(DoCheckIn(P("bob"), half, {{kr, 10}}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Goal patch;
  patch.title = "Renamed";
  EXPECT_THAT(svc().UpdateGoal(P("bob"), half, patch, {"title"}, "", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  KeyResult kp;
  kp.target = 5;
  EXPECT_THAT(
      svc().UpdateKeyResult(P("bob"), half, kr, kp, {"target"}, "", "easier"),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(
      svc().CreateKeyResult(P("bob"), half, Kr("x", 1), "", Idempotency{}),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(svc().CreateGoal(P("ann"), PersonGoal("ann", "Too late"), {},
                               Idempotency{}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_NEAR(Get(half).progress, 0.5, kEps);
  EXPECT_EQ(Krs(half)[0].current, 5);

  // Archiving is still allowed, and keeps the score.
  ASSERT_THAT(SetState(P("bob"), completed, GoalState::kArchived), IsOk());
  EXPECT_EQ(Get(completed).state, GoalState::kArchived);
  ASSERT_TRUE(Get(completed).score.has_value());
  EXPECT_NEAR(*Get(completed).score, 1.0, kEps);

  EXPECT_THAT(svc().CloseCycle(Hr(), q1_, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Bug: the goals that were ACTIVE when the cycle closed can never be archived:
// ACTIVE -> ARCHIVED is no transition, and COMPLETED is refused as a change
// in a closed cycle.
TEST_F(GoalsServiceTest, ActiveGoalsOfAClosedCycleCanBeArchived) {
  const std::string g = Create(P("ann"), PersonGoal("ann", "Live at close"));
  ASSERT_FALSE(g.empty());
  ASSERT_THAT(svc().CloseCycle(Hr(), q1_, ""), IsOk());
  EXPECT_THAT(SetState(P("ann"), g, GoalState::kArchived), IsOk());
  EXPECT_EQ(Get(g).state, GoalState::kArchived);
}

// ---- batch creation ---------------------------------------------------------

TEST_F(GoalsServiceTest, BatchCreateSetsOneGoalPerPerson) {
  Goal pg = TeamGoal("platform", "Operational excellence");
  pg.progress_source = ProgressSource::kChildren;
  const std::string parent = Create(P("mia"), pg);
  // An existing child, done.
  const std::string existing =
      Create(P("mia"), TeamGoal("platform", "On-call rota", parent),
             {Kr("rota", 1, 1, 1)});
  ASSERT_FALSE(HasFailure());
  ASSERT_NEAR(Get(parent).progress, 1, kEps);

  Goal templ = NewGoal("Write runbooks", parent);
  templ.level = Level::kTeam;  // overridden: INDIVIDUAL
  auto made =
      svc().BatchCreateGoals(P("mia"), templ, {Kr("runbooks", 10, 1, 5)},
                             Audience::kTeam, "platform", Idempotency{});
  ASSERT_THAT(made, IsOk());
  // Active members only (carl has left), each owning their own goal.
  std::vector<std::string> owners;
  std::set<std::string> kr_ids;
  for (const auto& v : *made) {
    owners.push_back(v.goal.owner.person_id);
    EXPECT_EQ(v.goal.parent_id, parent);
    EXPECT_EQ(v.goal.state, GoalState::kActive);
    EXPECT_EQ(v.goal.level, Level::kIndividual);
    EXPECT_EQ(v.goal.title, "Write runbooks");
    EXPECT_NEAR(Get(v.goal.id).progress, 0.5, kEps);
    auto krs = Krs(v.goal.id);
    ASSERT_EQ(krs.size(), 1u);
    EXPECT_EQ(krs[0].goal_id, v.goal.id);
    kr_ids.insert(krs[0].id);
  }
  EXPECT_THAT(owners, UnorderedElementsAre("ann", "bob", "mia"));
  EXPECT_EQ(kr_ids.size(), 3u);
  // P = (1 + 3 * 0.5) / 4.
  EXPECT_NEAR(Get(parent).child_weight, 4, kEps);
  EXPECT_NEAR(Get(parent).progress, 2.5 / 4, kEps);
  GoalFilter f;
  f.parent_id = parent;
  auto children = Ids(ListAll(Svc(), f));
  EXPECT_EQ(children.size(), 4u);
  EXPECT_THAT(children, ::testing::Contains(existing));

  // Direct reports of a manager.
  const std::string p2 = Create(P("mia"), TeamGoal("platform", "Security"));
  ASSERT_FALSE(p2.empty());
  auto reports = svc().BatchCreateGoals(
      P("mia"), NewGoal("Rotate keys", p2), {Kr("keys", 4)},
      Audience::kDirectReports, "mia", Idempotency{});
  ASSERT_THAT(reports, IsOk());
  owners.clear();
  for (const auto& v : *reports) owners.push_back(v.goal.owner.person_id);
  EXPECT_THAT(owners, UnorderedElementsAre("ann", "bob"));
  EXPECT_NEAR(Get(p2).child_weight, 2, kEps);
  // victor manages them too (skip-level).
  EXPECT_THAT(
      svc().BatchCreateGoals(P("victor"), NewGoal("Patch", p2), {},
                             Audience::kDirectReports, "mia", Idempotency{}),
      IsOk());
  EXPECT_NEAR(Get(p2).child_weight, 4, kEps);

  // Not their manager: nobody gets a goal.
  const size_t before = ListAll(Svc(), GoalFilter{}).size();
  EXPECT_THAT(
      svc().BatchCreateGoals(P("sam"), NewGoal("Nope", p2), {},
                             Audience::kDirectReports, "mia", Idempotency{}),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(
      svc().BatchCreateGoals(P("sue"), NewGoal("Nope", p2), {}, Audience::kTeam,
                             "platform", Idempotency{}),
      StatusIs(absl::StatusCode::kPermissionDenied));
  // ann is in the team but manages nobody in it.
  EXPECT_THAT(
      svc().BatchCreateGoals(P("ann"), NewGoal("Nope", p2), {}, Audience::kTeam,
                             "platform", Idempotency{}),
      StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(ListAll(Svc(), GoalFilter{}).size(), before);
  EXPECT_NEAR(Get(p2).child_weight, 4, kEps);
}

// ---- listing ----------------------------------------------------------------

class ListGoalsTest : public GoalsServiceTest {
 protected:
  void SetUp() override {
    GoalsServiceTest::SetUp();
    if (HasFatalFailure()) return;
    // The clock is at half the cycle: 0.5 is ON_TRACK, 0.3 AT_RISK, 0 OFF.
    g1_ = Make("ann", "ann public", Visibility::kPublic, 5);
    g2_ = Make("ann", "ann private", Visibility::kPrivate, 0);
    g3_ = Make("bob", "bob team", Visibility::kTeam, 3);
    g4_ = Make("bob", "bob public", Visibility::kPublic, 3);
    g5_ = Make("sue", "sue public", Visibility::kPublic, 0);
    g6_ = Create(P("mia"), TeamGoal("platform", "platform public"),
                 {Kr("k", 10, 1, 5)});
    g7_ = Make("sam", "sam private", Visibility::kPrivate, 5);
  }
  std::string Make(const std::string& owner, const std::string& title,
                   Visibility v, double current) {
    Goal g = PersonGoal(owner, title);
    g.visibility = v;
    return Create(P(owner), g, {Kr("k", 10, 1, current)});
  }
  std::string g1_, g2_, g3_, g4_, g5_, g6_, g7_;
};

TEST_F(ListGoalsTest, StrangersSeeOnlyPublicGoals) {
  EXPECT_THAT(Ids(ListAll(P("sue"), GoalFilter{})),
              UnorderedElementsAre(g1_, g4_, g5_, g6_));
  EXPECT_THAT(Ids(ListAll(P("ann"), GoalFilter{})),
              UnorderedElementsAre(g1_, g2_, g3_, g4_, g5_, g6_));
  EXPECT_THAT(Ids(ListAll(P("mia"), GoalFilter{})),
              UnorderedElementsAre(g1_, g2_, g3_, g4_, g5_, g6_));
  EXPECT_THAT(Ids(ListAll(Hr(), GoalFilter{})),
              UnorderedElementsAre(g1_, g2_, g3_, g4_, g5_, g6_, g7_));
  Caller nobody;
  EXPECT_THAT(Ids(ListAll(nobody, GoalFilter{})),
              UnorderedElementsAre(g1_, g4_, g5_, g6_));
}

TEST_F(ListGoalsTest, FiltersByHealthAndTeam) {
  GoalFilter f;
  f.health = Health::kAtRisk;
  EXPECT_THAT(Ids(ListAll(Hr(), f)), UnorderedElementsAre(g3_, g4_));
  EXPECT_THAT(Ids(ListAll(P("sue"), f)), UnorderedElementsAre(g4_));
  f.health = Health::kOnTrack;
  EXPECT_THAT(Ids(ListAll(Hr(), f)), UnorderedElementsAre(g1_, g6_, g7_));
  f.health = Health::kOffTrack;
  EXPECT_THAT(Ids(ListAll(Hr(), f)), UnorderedElementsAre(g2_, g5_));
  for (const auto& v : ListAll(Hr(), f)) {
    EXPECT_NEAR(v.expected_progress, 0.5, kEps);
    EXPECT_EQ(v.health, Health::kOffTrack);
  }

  GoalFilter team;
  team.team_id = "platform";
  EXPECT_THAT(Ids(ListAll(Hr(), team)),
              UnorderedElementsAre(g1_, g2_, g3_, g4_, g6_));
  EXPECT_THAT(Ids(ListAll(P("sue"), team)),
              UnorderedElementsAre(g1_, g4_, g6_));
  team.health = Health::kAtRisk;
  EXPECT_THAT(Ids(ListAll(P("sue"), team)), UnorderedElementsAre(g4_));
  GoalFilter sales;
  sales.team_id = "sales";
  EXPECT_THAT(Ids(ListAll(Hr(), sales)), UnorderedElementsAre(g5_, g7_));
}

TEST_F(ListGoalsTest, PagesFollowTheCursorWithoutGapsOrDuplicates) {
  struct Case {
    Caller caller;
    int limit;
    size_t total;
  };
  for (const Case& c : {Case{Hr(), 2, 7}, Case{P("sue"), 1, 4},
                        Case{P("ann"), 4, 6}, Case{P("sue"), 3, 4}}) {
    SCOPED_TRACE(absl::StrCat(c.caller.person_id, " limit ", c.limit));
    std::vector<std::string> seen;
    Page page{"", c.limit};
    int pages = 0;
    for (; pages < 20; ++pages) {
      std::string cursor;
      auto got = svc().ListGoals(c.caller, GoalFilter{}, page, &cursor);
      ASSERT_THAT(got, IsOk());
      EXPECT_LE(got->size(), static_cast<size_t>(c.limit));
      for (const auto& v : *got) seen.push_back(v.goal.id);
      if (cursor.empty()) break;
      EXPECT_FALSE(got->empty());
      page.after = cursor;
    }
    EXPECT_LT(pages, 20);
    EXPECT_EQ(seen.size(), c.total);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(),
              seen.size());
    EXPECT_THAT(
        seen, UnorderedElementsAreArray(Ids(ListAll(c.caller, GoalFilter{}))));
  }
}

// ---- trees ------------------------------------------------------------------

// The tree reads an in-memory copy of the cycle; every change committed after
// the copy was made, by this service or by another replica on the same
// database, shows in the next tree, and a pruned change log makes the copy
// read the cycle again.
TEST_F(GoalsServiceTest, TreeFollowsEveryChangeAfterItsFirstRead) {
  Tree tr = BuildTree();
  ASSERT_FALSE(HasFailure());
  TreeRoot company;
  company.kind = TreeRoot::Kind::kCompany;
  company.cycle_id = q1_;
  auto shape = [&](GoalsService& s) {
    std::map<std::string, std::pair<std::string, double>> out;
    auto tree = s.AlignmentTree(Svc(), company, 0);
    EXPECT_THAT(tree, IsOk());
    if (!tree.ok()) return out;
    for (const auto& n : *tree) out[n.id] = {n.parent_id, n.goal->progress};
    return out;
  };
  auto first = shape(svc());
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(svc().tree_index().full_loads(), 1);

  // A check-in moves the goal and every ancestor.
  ASSERT_THAT(DoCheckIn(P("bob"), tr.b, {{tr.b1, 200}}), IsOk());
  auto after_check_in = shape(svc());
  EXPECT_NEAR(after_check_in[tr.b].second, 1, kEps);
  EXPECT_NEAR(after_check_in[tr.t].second, Get(tr.t).progress, kEps);
  EXPECT_NEAR(after_check_in[tr.c].second, Get(tr.c).progress, kEps);
  EXPECT_GT(after_check_in[tr.c].second, first[tr.c].second);

  // Another replica on the same database adds a goal and moves one.
  GoalsService other(repo_.get(), &org_, GoalsOptions{},
                     [this] { return now_; });
  auto t2 =
      other.CreateGoal(P("mia"), TeamGoal("platform", "Faster builds", tr.c),
                       {Kr("cache hits", 10)}, Idempotency{});
  ASSERT_THAT(t2, IsOk());
  Goal patch;
  patch.parent_id = t2->goal.id;
  ASSERT_THAT(other.UpdateGoal(P("mia"), tr.a, patch, {"parent"}, "",
                               "the scheduler serves build speed"),
              IsOk());
  auto moved = shape(svc());
  ASSERT_EQ(moved.size(), 5u);
  EXPECT_EQ(moved[tr.a].first, t2->goal.id);
  EXPECT_EQ(moved[t2->goal.id].first, tr.c);
  EXPECT_NEAR(moved[tr.t].second, Get(tr.t).progress, kEps);

  // A draft, created and deleted, comes and goes.
  Goal d = PersonGoal("ann", "Draft idea", tr.t);
  d.state = GoalState::kDraft;
  const std::string draft = Create(P("ann"), d, {Kr("done", 1, 1, 1)});
  EXPECT_TRUE(shape(svc()).contains(draft));
  ASSERT_THAT(svc().DeleteGoal(P("ann"), draft, ""), IsOk());
  EXPECT_FALSE(shape(svc()).contains(draft));
  // All of it by re-reading changed goals only.
  EXPECT_EQ(svc().tree_index().full_loads(), 1);
  EXPECT_GT(svc().tree_index().goals_reread(), 0);

  // Changes pruned before the copy caught up: the cycle is read whole.
  ASSERT_THAT(DoCheckIn(P("ann"), tr.a, {{tr.a1, 100}}), IsOk());
  ASSERT_THAT(storage::PruneChanges(*db_, absl::Now() + absl::Hours(1)),
              IsOk());
  auto after_prune = shape(svc());
  EXPECT_EQ(svc().tree_index().full_loads(), 2);
  EXPECT_NEAR(after_prune[tr.a].second, Get(tr.a).progress, kEps);
  EXPECT_EQ(after_prune, shape(other));
}

TEST_F(GoalsServiceTest, AlignmentTreeAndLineage) {
  const std::string c = Create(P("cora"), CompanyGoal("Company"));
  Goal tg = TeamGoal("platform", "Team", c);
  tg.progress_source = ProgressSource::kChildren;
  const std::string t = Create(P("mia"), tg);
  const std::string a =
      Create(P("ann"), PersonGoal("ann", "Ann public", t), {Kr("k", 10, 1, 5)});
  Goal hg = PersonGoal("ann", "Ann secret", t);
  hg.visibility = Visibility::kPrivate;
  const std::string h = Create(P("ann"), hg, {Kr("k", 10, 1, 10)});
  ASSERT_FALSE(HasFailure());

  TreeRoot company;
  company.kind = TreeRoot::Kind::kCompany;
  company.cycle_id = q1_;
  auto tree = svc().AlignmentTree(P("sue"), company, 0);
  ASSERT_THAT(tree, IsOk());
  ASSERT_EQ(tree->size(), 4u);
  std::map<std::string, TreeNode> by_id;
  for (const auto& n : *tree) by_id[n.id] = n;
  EXPECT_EQ((*tree)[0].id, c);
  EXPECT_EQ((*tree)[1].id, t);
  EXPECT_EQ(by_id[c].depth, 0);
  EXPECT_EQ(by_id[t].depth, 1);
  EXPECT_EQ(by_id[t].parent_id, c);
  EXPECT_EQ(by_id[a].depth, 2);
  EXPECT_EQ(by_id[h].depth, 2);
  EXPECT_FALSE(by_id[a].restricted);
  EXPECT_EQ(by_id[a].goal->title, "Ann public");
  EXPECT_NEAR(by_id[a].goal->progress, 0.5, kEps);
  EXPECT_TRUE(by_id[h].restricted);
  EXPECT_EQ(by_id[h].goal, nullptr);
  EXPECT_EQ(by_id[h].parent_id, t);
  // The secret goal's 1.0 still counts: (0.5 + 1) / 2.
  EXPECT_NEAR(by_id[t].goal->progress, 0.75, kEps);
  EXPECT_NEAR(by_id[c].goal->progress, 0.75, kEps);
  EXPECT_NEAR(by_id[t].expected_progress, 0.5, kEps);
  EXPECT_EQ(by_id[t].health, Health::kOnTrack);

  auto shallow = svc().AlignmentTree(P("sue"), company, 1);
  ASSERT_THAT(shallow, IsOk());
  ASSERT_EQ(shallow->size(), 2u);
  EXPECT_EQ((*shallow)[0].id, c);
  EXPECT_EQ((*shallow)[1].id, t);
  EXPECT_EQ((*shallow)[1].depth, 1);

  auto managed = svc().AlignmentTree(P("mia"), company, 0);
  ASSERT_THAT(managed, IsOk());
  for (const auto& n : *managed) {
    EXPECT_FALSE(n.restricted) << n.id;
    if (n.id == h) {
      EXPECT_EQ(n.goal->title, "Ann secret");
    }
  }

  TreeRoot from_goal;
  from_goal.kind = TreeRoot::Kind::kGoal;
  from_goal.id = t;
  auto sub = svc().AlignmentTree(P("sue"), from_goal, 0);
  ASSERT_THAT(sub, IsOk());
  ASSERT_EQ(sub->size(), 3u);
  EXPECT_EQ((*sub)[0].id, t);
  EXPECT_EQ((*sub)[0].depth, 0);
  TreeRoot team;
  team.kind = TreeRoot::Kind::kTeam;
  team.id = "platform";
  team.cycle_id = q1_;
  auto by_team = svc().AlignmentTree(P("sue"), team, 0);
  ASSERT_THAT(by_team, IsOk());
  ASSERT_EQ(by_team->size(), 3u);
  EXPECT_EQ((*by_team)[0].id, t);
  from_goal.id = h;
  EXPECT_THAT(svc().AlignmentTree(P("sue"), from_goal, 0),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(svc().AlignmentTree(P("sue"), company, -1),
              InvalidNaming("depth"));

  auto lineage = svc().Lineage(P("sue"), a);
  ASSERT_THAT(lineage, IsOk());
  ASSERT_EQ(lineage->size(), 3u);
  EXPECT_EQ((*lineage)[0].id, a);
  EXPECT_EQ((*lineage)[1].id, t);
  EXPECT_EQ((*lineage)[2].id, c);
  EXPECT_EQ((*lineage)[0].depth, 0);
  EXPECT_EQ((*lineage)[1].depth, -1);
  EXPECT_EQ((*lineage)[2].depth, -2);
  EXPECT_EQ((*lineage)[2].goal->level, Level::kCompany);
  EXPECT_NEAR((*lineage)[2].goal->progress, 0.75, kEps);
  EXPECT_THAT(svc().Lineage(P("sue"), h),
              StatusIs(absl::StatusCode::kNotFound));
  auto own = svc().Lineage(P("ann"), h);
  ASSERT_THAT(own, IsOk());
  ASSERT_EQ(own->size(), 3u);
  EXPECT_EQ((*own)[0].goal->title, "Ann secret");
}

// ---- due check-ins and census -----------------------------------------------

TEST_F(GoalsServiceTest, DueCheckInsFollowTheCadence) {
  const std::string ga =
      Create(P("ann"), PersonGoal("ann", "ann one"), {Kr("k", 10)});
  const std::string ga2 =
      Create(P("ann"), PersonGoal("ann", "ann two"), {Kr("k", 10)});
  const std::string gb =
      Create(P("mia"), PersonGoal("bob", "bob one"), {Kr("k", 10)});
  const std::string gs =
      Create(P("sue"), PersonGoal("sue", "sue one"), {Kr("k", 10)});
  Goal d = PersonGoal("ann", "ann draft");
  d.state = GoalState::kDraft;
  const std::string gd = Create(P("ann"), d);
  ASSERT_FALSE(HasFailure());
  ASSERT_THAT(DoCheckIn(P("ann"), ga, {{Krs(ga)[0].id, 1}}), IsOk());

  auto due = [&](const Caller& caller, const std::string& person,
                 const std::string& manager, int cadence = 0) {
    std::string cursor;
    auto got = svc().ListDueCheckIns(caller, person, manager, cadence,
                                     Page{"", 100}, &cursor);
    EXPECT_THAT(got, IsOk());
    std::vector<std::string> ids;
    if (got.ok()) {
      for (const auto& i : *got) ids.push_back(i.goal.goal.id);
    }
    return ids;
  };

  now_ += absl::Hours(6 * 24);
  EXPECT_TRUE(due(P("ann"), "ann", "").empty());
  now_ += absl::Hours(2 * 24);  // 8 days
  ASSERT_THAT(DoCheckIn(P("ann"), ga2, {{Krs(ga2)[0].id, 2}}), IsOk());

  EXPECT_THAT(due(P("ann"), "ann", ""), ElementsAre(ga));
  {
    std::string cursor;
    auto items =
        svc().ListDueCheckIns(P("ann"), "ann", "", 0, Page{"", 100}, &cursor);
    ASSERT_THAT(items, IsOk());
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ((*items)[0].days_since, 8);
  }
  EXPECT_TRUE(due(P("ann"), "ann", "", 10).empty());
  EXPECT_THAT(due(P("mia"), "ann", ""), ElementsAre(ga));
  std::vector<std::string> team = {ga, gb};
  std::sort(team.begin(), team.end());
  EXPECT_EQ(due(P("mia"), "", "mia"), team);
  EXPECT_EQ(due(P("victor"), "", "mia"), team);
  EXPECT_EQ(due(Hr(), "", "mia"), team);
  std::vector<std::string> all = {ga, gb, gs};
  std::sort(all.begin(), all.end());
  EXPECT_EQ(due(P("cora"), "", "cora"), all);
  EXPECT_THAT(due(P("sue"), "sue", ""), ElementsAre(gs));

  for (const auto& [who, person, manager] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"sue", "ann", ""},
           {"sue", "", "mia"},
           {"ann", "", "mia"},
           {"bob", "ann", ""}}) {
    SCOPED_TRACE(who + " asking for " + person + manager);
    std::string cursor;
    EXPECT_THAT(svc().ListDueCheckIns(P(who), person, manager, 0, Page{"", 100},
                                      &cursor),
                StatusIs(absl::StatusCode::kPermissionDenied));
  }

  // Paging.
  std::string cursor;
  auto first =
      svc().ListDueCheckIns(P("mia"), "", "mia", 0, Page{"", 1}, &cursor);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].goal.goal.id, team[0]);
  ASSERT_EQ(cursor, team[0]);
  auto second =
      svc().ListDueCheckIns(P("mia"), "", "mia", 0, Page{cursor, 1}, &cursor);
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].goal.goal.id, team[1]);
  EXPECT_EQ(cursor, "");
  (void)gd;
}

TEST_F(GoalsServiceTest, CensusCountsByStateHealthAndDue) {
  const std::string q2 = MakeCycle("2025 Q2", "2025-04-01", "2025-06-30");
  now_ = At(2025, 2, 7);
  const std::string on =
      Create(P("ann"), PersonGoal("ann", "on"), {Kr("k", 10, 1, 5)});
  Create(P("ann"), PersonGoal("ann", "off"), {Kr("k", 10, 1, 0)});
  Create(P("bob"), PersonGoal("bob", "risk"), {Kr("k", 10, 1, 3)});
  Goal d = PersonGoal("bob", "draft");
  d.state = GoalState::kDraft;
  Create(P("bob"), d);
  const std::string gone = Create(P("bob"), PersonGoal("bob", "gone"));
  Goal next = PersonGoal("sue", "next quarter");
  next.cycle_id = q2;
  Create(P("sue"), next);
  ASSERT_FALSE(HasFailure());
  ASSERT_THAT(SetState(P("bob"), gone, GoalState::kCancelled), IsOk());
  now_ = At(2025, 2, 14);
  ASSERT_THAT(DoCheckIn(P("ann"), on, {}, "", Idempotency{}, Health::kOnTrack),
              IsOk());
  now_ = At(2025, 2, 15);  // half of Q1; Q2 not started

  auto census = svc().TakeCensus();
  ASSERT_THAT(census, IsOk());
  std::map<std::tuple<std::string, GoalState, Health>, int> counts;
  for (const auto& c : census->counts) {
    counts[{c.cycle_id, c.state, c.health}] += c.count;
    // Every goal here is a person's own.
    EXPECT_EQ(c.level, Level::kIndividual);
  }
  using Key = std::tuple<std::string, GoalState, Health>;
  std::map<Key, int> want = {
      {{q1_, GoalState::kActive, Health::kOnTrack}, 1},
      {{q1_, GoalState::kActive, Health::kAtRisk}, 1},
      {{q1_, GoalState::kActive, Health::kOffTrack}, 1},
      {{q1_, GoalState::kDraft, Health::kUnspecified}, 1},
      {{q1_, GoalState::kCancelled, Health::kUnspecified}, 1},
      {{q2, GoalState::kActive, Health::kOnTrack}, 1},
  };
  EXPECT_EQ(counts, want);
  EXPECT_EQ(census->counts.size(), want.size());
  // Eight days without a check-in: "off", "risk" and the Q2 goal; "on"
  // checked in yesterday.
  std::map<std::string, int> due_want = {{q1_, 2}, {q2, 1}};
  EXPECT_EQ(census->due_by_cycle, due_want);
}

// The census tells company, team and individual goals apart, so that company
// goals off pace can be watched on their own.
TEST_F(GoalsServiceTest, CensusCountsByLevel) {
  BuildTree();
  ASSERT_FALSE(HasFailure());
  auto census = svc().TakeCensus();
  ASSERT_THAT(census, IsOk());
  std::map<Level, int> by_level;
  for (const auto& c : census->counts) {
    EXPECT_EQ(c.state, GoalState::kActive);
    by_level[c.level] += c.count;
  }
  std::map<Level, int> want = {
      {Level::kCompany, 1}, {Level::kTeam, 1}, {Level::kIndividual, 2}};
  EXPECT_EQ(by_level, want);
  // Nothing is due yet, and the cycle has its count all the same.
  std::map<std::string, int> due_want = {{q1_, 0}};
  EXPECT_EQ(census->due_by_cycle, due_want);
}

// ----------------------------------------------------------------- KPI links

// The metrics service as the goals service sees it: KPIs with an owner and a
// visibility, one value per KPI (whatever the period), and a feed whose
// resume token is the position after an event ("1", "2"...).
class FakeKpis : public KpiSource {
 public:
  void Add(const std::string& id, const std::string& owner_person,
           org::Visibility visibility) {
    KpiInfo k;
    k.id = id;
    k.owned.owner_person_id = owner_person;
    k.owned.visibility = visibility;
    kpis_[id] = k;
  }
  KpiInfo Info(const std::string& id) { return kpis_.at(id); }
  void SetValue(const std::string& id, double v) { values_[id] = v; }
  void set_down(bool down) { down_ = down; }
  int value_calls() const { return value_calls_; }
  // A points event of `id` at `at`.
  void Written(const std::string& id, absl::Time at) {
    KpiEvent e;
    e.type = KpiEvent::Type::kPointsWritten;
    e.kpi = kpis_.at(id);
    e.points_start = e.points_end = at;
    feed_.push_back(e);
  }
  void OtherEvent() { feed_.push_back(KpiEvent{}); }
  int delivered() const { return delivered_; }

  absl::StatusOr<KpiInfo> GetKpi(const std::string& id) override {
    if (down_) return absl::UnavailableError("metrics is down");
    auto it = kpis_.find(id);
    if (it == kpis_.end()) return absl::NotFoundError("no such KPI");
    return it->second;
  }
  absl::StatusOr<std::optional<double>> ValueOver(const std::string& id,
                                                  absl::Time,
                                                  absl::Time) override {
    ++value_calls_;
    if (down_) return absl::UnavailableError("metrics is down");
    auto it = values_.find(id);
    if (it == values_.end()) return std::optional<double>();
    return std::optional<double>(it->second);
  }
  absl::Status Watch(
      const std::string& resume_token,
      const std::function<absl::Status()>& on_open,
      const std::function<absl::Status(const KpiEvent&)>& on_event) override {
    if (down_) return absl::UnavailableError("metrics is down");
    size_t from =
        resume_token.empty() ? feed_.size() : std::stoul(resume_token);
    if (auto s = on_open(); !s.ok()) return s;
    for (size_t i = from; i < feed_.size(); ++i) {
      KpiEvent e = feed_[i];
      e.resume_token = std::to_string(i + 1);
      ++delivered_;
      if (auto s = on_event(e); !s.ok()) return s;
    }
    return absl::UnavailableError("feed ended");
  }
  void Cancel() override {}

 private:
  std::map<std::string, KpiInfo> kpis_;
  std::map<std::string, double> values_;
  std::vector<KpiEvent> feed_;
  bool down_ = false;
  int value_calls_ = 0;
  int delivered_ = 0;
};

class KpiLinkTest : public GoalsServiceTest {
 protected:
  void SetUp() override {
    GoalsServiceTest::SetUp();
    // sam's: public; sales-only (TEAM sales); sam's private numbers.
    kpis_.Add("revenue", "sam", org::Visibility::kPublic);
    kpis_.Add("pipeline", "sam", org::Visibility::kTeam);
    kpis_.Add("quota", "sam", org::Visibility::kPrivate);
    GoalsOptions o;
    o.kpis = &kpis_;
    MakeService(o);
  }

  KeyResult Linked(const std::string& title, const std::string& kpi) {
    KeyResult k = Kr(title, 100);
    k.kpi = kpi;
    return k;
  }
  absl::StatusOr<KeyResult> AddKr(const Caller& as, const std::string& goal,
                                  const KeyResult& k) {
    return svc().CreateKeyResult(as, goal, k, "", Idempotency{});
  }
  absl::StatusOr<KeyResult> Relink(const Caller& as, const std::string& goal,
                                   const std::string& kr,
                                   const std::string& kpi) {
    KeyResult patch;
    patch.kpi = kpi;
    return svc().UpdateKeyResult(as, goal, kr, patch, {"kpi"}, "", "relink");
  }
  std::vector<CheckIn> CheckIns(const std::string& goal) {
    auto c = svc().ListCheckIns(Svc(), goal, Page{"", 1000});
    EXPECT_THAT(c, IsOk());
    return c.ok() ? *c : std::vector<CheckIn>{};
  }
  std::string StoredToken() {
    auto t = repo_->KpiResumeToken();
    EXPECT_THAT(t, IsOk());
    return t.ok() ? *t : "?";
  }

  FakeKpis kpis_;
};

TEST_F(KpiLinkTest, TheOwnerMustBeAbleToReadTheKpi) {
  std::string ann = Create(P("ann"), PersonGoal("ann", "Help sales"));
  std::string sue = Create(P("sue"), PersonGoal("sue", "Sell"));
  // PUBLIC: anyone's key result may follow it.
  EXPECT_THAT(AddKr(P("ann"), ann, Linked("revenue", "kpis/revenue")), IsOk());
  // TEAM sales: sue is in sales, ann is not.
  EXPECT_THAT(AddKr(P("sue"), sue, Linked("pipeline", "kpis/pipeline")),
              IsOk());
  auto denied = AddKr(P("ann"), ann, Linked("pipeline", "kpis/pipeline"));
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied,
                               HasSubstr("key_result.kpi")));
  // Not even ann's manager's manager linking it for her: the rule is about
  // the key result's owner, not the caller.
  EXPECT_THAT(AddKr(P("victor"), ann, Linked("quota", "kpis/quota")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("key_result.kpi")));
  // PRIVATE: sam's own, and his reports' key results cannot read it.
  std::string sam = Create(P("sam"), PersonGoal("sam", "Make quota"));
  EXPECT_THAT(AddKr(P("sam"), sam, Linked("quota", "kpis/quota")), IsOk());
  EXPECT_THAT(AddKr(P("sue"), sue, Linked("quota", "kpis/quota")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A team's key result reads what its lead reads.
  std::string sales = Create(P("sam"), TeamGoal("sales", "Sales grows"));
  EXPECT_THAT(AddKr(P("sam"), sales, Linked("pipeline", "kpis/pipeline")),
              IsOk());
  // Nothing was added by the refusals.
  EXPECT_EQ(Krs(ann).size(), 1u);
  EXPECT_EQ(Krs(sue).size(), 1u);

  // Key results created with their goal are checked the same way, for each
  // goal's owner.
  auto with_goal = svc().CreateGoal(
      P("ann"), PersonGoal("ann", "Also sales"),
      {Kr("plain", 10), Linked("pipeline", "kpis/pipeline")}, Idempotency{});
  EXPECT_THAT(with_goal, StatusIs(absl::StatusCode::kPermissionDenied,
                                  HasSubstr("key_results[1].kpi")));
  EXPECT_THAT(svc().CreateGoal(P("ann"), PersonGoal("ann", "Also sales"),
                               {Linked("x", "kpis/nope")}, Idempotency{}),
              InvalidNaming("key_results[0].kpi"));
  // Assigned to sam's reports: sue may read the sales pipeline...
  EXPECT_THAT(
      svc().BatchCreateGoals(P("sam"), NewGoal("Pipeline"),
                             {Linked("pipeline", "kpis/pipeline")},
                             Audience::kDirectReports, "sam", Idempotency{}),
      IsOk());
  // ...but not sam's private quota.
  EXPECT_THAT(svc().BatchCreateGoals(
                  P("sam"), NewGoal("Quota"), {Linked("quota", "kpis/quota")},
                  Audience::kDirectReports, "sam", Idempotency{}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("key_results[0].kpi")));
}

TEST_F(KpiLinkTest, UnknownKpiIsInvalidAndMetricsDownIsUnavailable) {
  std::string ann = Create(P("ann"), PersonGoal("ann", "Help sales"));
  EXPECT_THAT(AddKr(P("ann"), ann, Linked("x", "kpis/nope")),
              InvalidNaming("key_result.kpi"));
  kpis_.set_down(true);
  EXPECT_THAT(AddKr(P("ann"), ann, Linked("x", "kpis/revenue")),
              StatusIs(absl::StatusCode::kUnavailable));
  // Without a link, the metrics service is not needed.
  auto plain = AddKr(P("ann"), ann, Kr("plain", 10));
  ASSERT_THAT(plain, IsOk());
  // Linking by update is checked the same way; unlinking needs nothing.
  EXPECT_THAT(Relink(P("ann"), ann, plain->id, "kpis/revenue"),
              StatusIs(absl::StatusCode::kUnavailable));
  kpis_.set_down(false);
  EXPECT_THAT(Relink(P("ann"), ann, plain->id, "kpis/quota"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("key_result.kpi")));
  EXPECT_THAT(Relink(P("ann"), ann, plain->id, "kpis/nope"),
              InvalidNaming("key_result.kpi"));
  ASSERT_THAT(Relink(P("ann"), ann, plain->id, "kpis/revenue"), IsOk());
  kpis_.set_down(true);
  // Other fields of a linked key result change without asking.
  KeyResult patch;
  patch.title = "renamed";
  patch.kpi = "kpis/revenue";
  EXPECT_THAT(svc().UpdateKeyResult(P("ann"), ann, plain->id, patch,
                                    {"title", "kpi"}, "", "rename"),
              StatusIs(absl::StatusCode::kOk));
  auto cleared = Relink(P("ann"), ann, plain->id, "");
  ASSERT_THAT(cleared, IsOk());
  EXPECT_EQ(cleared->kpi, "");
}

TEST_F(KpiLinkTest, WithoutMetricsLinkingIsAFailedPrecondition) {
  MakeService(GoalsOptions{});
  std::string ann = Create(P("ann"), PersonGoal("ann", "Help sales"));
  EXPECT_THAT(AddKr(P("ann"), ann, Linked("x", "kpis/revenue")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("key_result.kpi")));
  EXPECT_THAT(AddKr(P("ann"), ann, Kr("plain", 10)), IsOk());
}

TEST_F(KpiLinkTest, AValueChangeIsASystemCheckInWithTheTokenInOneWrite) {
  std::string parent = Create(P("mia"), TeamGoal("platform", "Platform"));
  Goal g = PersonGoal("ann", "Help sales", parent);
  std::string ann = Create(P("mia"), g, {Linked("revenue", "kpis/revenue")});
  std::string kr = KrId(ann, "revenue");
  KpiInfo info = kpis_.Info("revenue");

  kpis_.SetValue("revenue", 42);
  auto n = svc().FollowKpi(info, At(2025, 2, 1), At(2025, 2, 1), "7");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 1);
  auto cis = CheckIns(ann);
  ASSERT_EQ(cis.size(), 1u);
  EXPECT_TRUE(cis[0].by_system);
  EXPECT_EQ(cis[0].author_id, "");
  EXPECT_EQ(cis[0].note, "kpis/revenue = 42 over 2025-01-01..2025-03-31");
  ASSERT_EQ(cis[0].values.size(), 1u);
  EXPECT_EQ(cis[0].values[0].key_result_id, kr);
  EXPECT_DOUBLE_EQ(Krs(ann)[0].current, 42);
  EXPECT_NEAR(Get(ann).progress, 0.42, kEps);
  // Rolled up like any check-in.
  EXPECT_NEAR(Get(parent).progress, 0.42, kEps);
  auto history = History(ann);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().action, "CHECK_IN");
  EXPECT_EQ(history.back().actor, "system");
  EXPECT_EQ(StoredToken(), "7");

  // The same value again (a replay after a crash): no check-in, the
  // position moves on.
  n = svc().FollowKpi(info, At(2025, 2, 1), At(2025, 2, 1), "8");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(CheckIns(ann).size(), 1u);
  EXPECT_EQ(StoredToken(), "8");

  // Points outside the goal's period: the KPI is not even asked.
  int calls = kpis_.value_calls();
  kpis_.SetValue("revenue", 50);
  n = svc().FollowKpi(info, At(2025, 4, 1), At(2025, 4, 2), "9");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(kpis_.value_calls(), calls);

  // The owner lost the right to read it: no more updates.
  KpiInfo hidden = info;
  hidden.owned.visibility = org::Visibility::kPrivate;
  n = svc().FollowKpi(hidden, At(2025, 2, 1), At(2025, 2, 1), "10");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);

  n = svc().FollowKpi(info, At(2025, 3, 31, 23), At(2025, 3, 31, 23), "11");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 1);
  EXPECT_DOUBLE_EQ(Krs(ann)[0].current, 50);

  // Unlinked: the updates stop.
  ASSERT_THAT(Relink(P("ann"), ann, kr, ""), IsOk());
  kpis_.SetValue("revenue", 60);
  n = svc().FollowKpi(info, At(2025, 2, 1), At(2025, 2, 1), "12");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(CheckIns(ann).size(), 2u);
  EXPECT_DOUBLE_EQ(Krs(ann)[0].current, 50);
}

TEST_F(KpiLinkTest, MetricsDownDuringFollowWritesNothing) {
  std::string ann = Create(P("ann"), PersonGoal("ann", "Help sales"),
                           {Linked("revenue", "kpis/revenue")});
  kpis_.SetValue("revenue", 42);
  kpis_.set_down(true);
  EXPECT_THAT(svc().FollowKpi(kpis_.Info("revenue"), At(2025, 2, 1),
                              At(2025, 2, 1), "3"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(CheckIns(ann).empty());
  EXPECT_EQ(StoredToken(), "");
}

TEST_F(KpiLinkTest, TheFollowerResumesFromTheStoredTokenWithoutDuplicates) {
  std::string ann = Create(P("ann"), PersonGoal("ann", "Help sales"),
                           {Linked("revenue", "kpis/revenue")});
  std::string sue = Create(P("sue"), PersonGoal("sue", "Sell"),
                           {Linked("pipeline", "kpis/pipeline"),
                            Linked("pipeline too", "kpis/pipeline")});
  KpiFollower follower(&svc(), repo_.get(), &kpis_);
  // First start: no stored token, the feed from now, every link resynced.
  kpis_.SetValue("revenue", 10);
  EXPECT_THAT(follower.FollowOnce(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(CheckIns(ann).size(), 1u);
  EXPECT_TRUE(CheckIns(sue).empty());  // no value yet

  kpis_.SetValue("revenue", 20);
  kpis_.Written("revenue", At(2025, 2, 2));
  kpis_.OtherEvent();
  kpis_.SetValue("pipeline", 5);
  kpis_.Written("pipeline", At(2025, 2, 3));
  kpis_.Written("pipeline", At(2025, 2, 3));  // no change: no check-in
  kpis_.OtherEvent();
  // The feed starts after the resync's "now" (empty token): simulate a
  // stored position before these events.
  ASSERT_THAT(svc().StoreKpiResumeToken("0"), IsOk());
  EXPECT_THAT(follower.FollowOnce(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(CheckIns(ann).size(), 2u);
  auto sue_cis = CheckIns(sue);
  ASSERT_EQ(sue_cis.size(), 1u);
  EXPECT_EQ(sue_cis[0].values.size(), 2u);  // both key results, one check-in
  // The trailing events that wrote nothing were stored when the stream ended.
  EXPECT_EQ(StoredToken(), "5");

  // A crash that lost everything after the first check-in's commit: the
  // replay writes nothing twice.
  ASSERT_THAT(svc().StoreKpiResumeToken("1"), IsOk());
  EXPECT_THAT(follower.FollowOnce(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(CheckIns(ann).size(), 2u);
  EXPECT_EQ(CheckIns(sue).size(), 1u);
  EXPECT_EQ(StoredToken(), "5");

  // Metrics down: nothing is written and the position stays.
  kpis_.set_down(true);
  EXPECT_THAT(follower.FollowOnce(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(StoredToken(), "5");
}

}  // namespace
}  // namespace sightline::goals
