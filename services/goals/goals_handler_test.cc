#include "services/goals/goals_handler.h"

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/goals/codec.h"
#include "services/goals/progress.h"

namespace sightline::goals {
namespace {

using ::sightline::testing::GrpcStatusIs;
using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// The fields an INVALID_ARGUMENT status names.
std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : status::FieldViolations(s)) out.push_back(v.field);
  return out;
}

template <typename T>
std::vector<std::string> Fields(const absl::StatusOr<T>& s) {
  return Fields(s.status());
}

std::vector<std::string> Fields(const grpc::Status& s) {
  return Fields(status::FromGrpc(s));
}

// ---- names
// -------------------------------------------------------------------

TEST(ParseNames, AcceptsEachShape) {
  EXPECT_EQ(*ParseCycleName("cycles/2025-q1", "name"), "2025-q1");
  EXPECT_EQ(*ParseGoalName("goals/abc123", "name"), "abc123");
  EXPECT_EQ(*ParsePersonName("people/p-1", "person"), "p-1");
  EXPECT_EQ(*ParseTeamName("teams/t1", "team"), "t1");
  auto kr = ParseKeyResultName("goals/g1/keyResults/k1", "name");
  ASSERT_THAT(kr, IsOk());
  EXPECT_EQ(kr->goal_id, "g1");
  EXPECT_EQ(kr->key_result_id, "k1");
  EXPECT_THAT(ParseGoalName(absl::StrCat("goals/", std::string(63, 'a')), "n"),
              IsOk());
}

TEST(ParseNames, RefusesOtherShapesNamingTheField) {
  for (const char* bad :
       {"", "goals/", "goals/ABC", "goals/a b", "goals/a/", "/goals/a",
        "goal/a", "goals/a/keyResults/b", "cycles/a", "goals/a_b"}) {
    auto id = ParseGoalName(bad, "parent");
    EXPECT_THAT(id, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(Fields(id), ElementsAre("parent")) << bad;
  }
  EXPECT_THAT(ParseGoalName(absl::StrCat("goals/", std::string(64, 'a')), "n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCycleName("goals/a", "cycle"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cycle")));
  EXPECT_THAT(ParsePersonName("teams/a", "manager"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTeamName("people/a", "team"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (const char* bad :
       {"goals/g1", "goals/g1/keyResults/", "goals/g1/checkIns/k1",
        "goals/g1/keyResults/k1/x", "goals//keyResults/k1"}) {
    auto kr = ParseKeyResultName(bad, "key_result.name");
    EXPECT_THAT(kr, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(Fields(kr), ElementsAre("key_result.name")) << bad;
  }
}

TEST(ParseOwner, PersonOrTeamExactlyOne) {
  auto person = ParseOwner("people/p1", "goal.owner");
  ASSERT_THAT(person, IsOk());
  EXPECT_EQ(person->person_id, "p1");
  EXPECT_TRUE(person->team_id.empty());
  auto team = ParseOwner("teams/t1", "goal.owner");
  ASSERT_THAT(team, IsOk());
  EXPECT_EQ(team->team_id, "t1");
  EXPECT_TRUE(team->person_id.empty());
  for (const char* bad :
       {"", "goals/g1", "people/", "teams/T", "people/p1/x"}) {
    auto o = ParseOwner(bad, "goal.owner");
    EXPECT_THAT(o, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(Fields(o), ElementsAre("goal.owner")) << bad;
  }
  EXPECT_EQ(OwnerName(*person), "people/p1");
  EXPECT_EQ(OwnerName(*team), "teams/t1");
  EXPECT_EQ(OwnerName(Owner{}), "");
}

// ---- conversions
// ---------------------------------------------------------------

Goal FullGoal() {
  Goal g;
  g.id = "g1";
  g.title = "Ship it";
  g.description = "All of it";
  g.owner.person_id = "p1";
  g.contributor_ids = {"p2", "p3"};
  Stakeholder s;
  s.person_id = "p4";
  s.role = StakeholderRole::kConsulted;
  g.stakeholders = {s};
  g.level = Level::kTeam;
  g.cycle_id = "c1";
  g.start_date = "2025-01-01";
  g.due_date = "2025-03-31";
  g.parent_id = "g0";
  g.weight = 2.5;
  g.progress_source = ProgressSource::kChildren;
  g.kind = Kind::kExperiment;
  g.hypothesis = "it helps";
  g.visibility = Visibility::kTeam;
  g.state = GoalState::kCompleted;
  g.tags = {"a", "b"};
  g.approval_comment = "ok";
  g.progress = 0.4;
  g.score = 0.4;
  g.outcome = Outcome::kConcluded;
  g.last_check_in_status = Health::kAtRisk;
  g.last_check_in_time = 1700000000123456;
  g.revision = 7;
  g.create_time = 1600000000000000;
  g.update_time = 1700000000654321;
  return g;
}

TEST(GoalConversion, OutputCarriesEverything) {
  GoalView v;
  v.goal = FullGoal();
  v.expected_progress = 0.6;
  v.health = Health::kOffTrack;
  v1::Goal p;
  ToProto(v, "etag-1", &p);
  EXPECT_EQ(p.name(), "goals/g1");
  EXPECT_EQ(p.owner(), "people/p1");
  EXPECT_THAT(p.contributors(), ElementsAre("people/p2", "people/p3"));
  ASSERT_EQ(p.stakeholders_size(), 1);
  EXPECT_EQ(p.stakeholders(0).person(), "people/p4");
  EXPECT_EQ(p.stakeholders(0).role(), v1::Stakeholder::CONSULTED);
  EXPECT_EQ(p.level(), v1::TEAM);
  EXPECT_EQ(p.cycle(), "cycles/c1");
  EXPECT_EQ(p.parent(), "goals/g0");
  EXPECT_EQ(p.progress_source(), v1::Goal::CHILDREN);
  EXPECT_EQ(p.kind(), v1::Goal::EXPERIMENT);
  EXPECT_EQ(p.visibility(), v1::Goal::TEAM);
  EXPECT_EQ(p.state(), v1::Goal::COMPLETED);
  EXPECT_DOUBLE_EQ(p.progress(), 0.4);
  EXPECT_DOUBLE_EQ(p.expected_progress(), 0.6);
  EXPECT_EQ(p.health(), v1::OFF_TRACK);
  ASSERT_TRUE(p.has_score());
  EXPECT_DOUBLE_EQ(p.score(), 0.4);
  EXPECT_EQ(p.outcome(), v1::Goal::CONCLUDED);
  EXPECT_EQ(p.last_check_in_status(), v1::AT_RISK);
  using google::protobuf::util::TimeUtil;
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(p.last_check_in_time()),
            1700000000123456);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(p.create_time()),
            1600000000000000);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(p.update_time()),
            1700000000654321);
  EXPECT_EQ(p.etag(), "etag-1");
  EXPECT_EQ(p.revision(), 7);
  EXPECT_EQ(p.approval_comment(), "ok");

  // Unset optional parts stay unset.
  GoalView bare;
  bare.goal.id = "g2";
  bare.goal.owner.team_id = "t1";
  v1::Goal q;
  ToProto(bare, "e", &q);
  EXPECT_EQ(q.owner(), "teams/t1");
  EXPECT_FALSE(q.has_score());
  EXPECT_FALSE(q.has_last_check_in_time());
  EXPECT_TRUE(q.parent().empty());
  EXPECT_TRUE(q.cycle().empty());
}

TEST(GoalConversion, RoundTripsTheWritableFields) {
  GoalView v;
  v.goal = FullGoal();
  v1::Goal p;
  ToProto(v, "e", &p);
  auto back = GoalFromProto(p, "goal");
  ASSERT_THAT(back, IsOk());
  const Goal& want = v.goal;
  EXPECT_EQ(back->title, want.title);
  EXPECT_EQ(back->description, want.description);
  EXPECT_EQ(back->owner, want.owner);
  EXPECT_EQ(back->contributor_ids, want.contributor_ids);
  EXPECT_EQ(back->stakeholders, want.stakeholders);
  EXPECT_EQ(back->level, want.level);
  EXPECT_EQ(back->cycle_id, want.cycle_id);
  EXPECT_EQ(back->start_date, want.start_date);
  EXPECT_EQ(back->due_date, want.due_date);
  EXPECT_EQ(back->parent_id, want.parent_id);
  EXPECT_EQ(back->weight, want.weight);
  EXPECT_EQ(back->progress_source, want.progress_source);
  EXPECT_EQ(back->kind, want.kind);
  EXPECT_EQ(back->hypothesis, want.hypothesis);
  EXPECT_EQ(back->visibility, want.visibility);
  EXPECT_EQ(back->state, want.state);
  EXPECT_EQ(back->tags, want.tags);
  // Output-only fields are not taken from a request.
  EXPECT_TRUE(back->id.empty());
  EXPECT_EQ(back->revision, 0);
  EXPECT_FALSE(back->score.has_value());
  EXPECT_EQ(back->progress, 0);
}

TEST(GoalConversion, UnspecifiedEnumsPassAsZero) {
  v1::Goal p;
  p.set_owner("teams/t1");
  auto g = GoalFromProto(p, "goal");
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(static_cast<int>(g->level), 0);
  EXPECT_EQ(static_cast<int>(g->kind), 0);
  EXPECT_EQ(static_cast<int>(g->visibility), 0);
  EXPECT_EQ(static_cast<int>(g->progress_source), 0);
  EXPECT_EQ(static_cast<int>(g->state), 0);
  EXPECT_EQ(g->weight, 0);
  EXPECT_TRUE(g->cycle_id.empty());
  EXPECT_TRUE(g->parent_id.empty());
}

TEST(GoalConversion, ReportsEveryBadFieldAtOnce) {
  v1::Goal p;
  p.set_owner("people/P1");
  p.add_contributors("people/p2");
  p.add_contributors("people/p3");
  p.add_contributors("teams/t1");
  auto* s = p.add_stakeholders();
  s->set_person("p4");
  s->set_role(static_cast<v1::Stakeholder::Role>(7));
  p.set_level(static_cast<v1::Level>(4));
  p.set_kind(static_cast<v1::Goal::Kind>(-1));
  p.set_visibility(static_cast<v1::Goal::Visibility>(9));
  p.set_progress_source(static_cast<v1::Goal::ProgressSource>(4));
  p.set_state(static_cast<v1::Goal::State>(7));
  p.set_cycle("c1");
  p.set_parent("goals/");
  auto g = GoalFromProto(p, "goal");
  EXPECT_THAT(g, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Fields(g),
              UnorderedElementsAre("goal.owner", "goal.contributors[2]",
                                   "goal.stakeholders[0].person",
                                   "goal.stakeholders[0].role", "goal.level",
                                   "goal.kind", "goal.visibility",
                                   "goal.progress_source", "goal.state",
                                   "goal.cycle", "goal.parent"));
}

TEST(GoalConversion, MaskReadsOnlyTheNamedFields) {
  v1::Goal p;
  p.set_title("New");
  p.set_owner("nonsense");
  p.set_kind(static_cast<v1::Goal::Kind>(99));
  std::vector<std::string> mask = {"title"};
  auto g = GoalFromProto(p, "goal", &mask);
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->title, "New");
  EXPECT_TRUE(g->owner.empty());

  mask = {"owner"};
  EXPECT_THAT(Fields(GoalFromProto(p, "goal", &mask)),
              ElementsAre("goal.owner"));
  // An unknown path reads nothing here; the service refuses it.
  mask = {"bogus"};
  EXPECT_THAT(GoalFromProto(p, "goal", &mask), IsOk());
}

TEST(KeyResultConversion, RoundTripsWithComputedProgress) {
  KeyResult k;
  k.id = "k1";
  k.goal_id = "g1";
  k.title = "Revenue";
  k.measure = Measure::kCurrency;
  k.currency_code = "EUR";
  k.direction = Direction::kIncrease;
  k.baseline = 10;
  k.target = 20;
  k.stretch_target = 30;
  k.current = 15;
  k.unit = "k";
  k.weight = 3;
  k.kpi = "kpis/rev";
  k.revision = 4;
  k.create_time = 1000000;
  k.update_time = 2000000;
  v1::KeyResult p;
  ToProto(k, "kr-etag", &p);
  EXPECT_EQ(p.name(), "goals/g1/keyResults/k1");
  EXPECT_EQ(p.measure(), v1::KeyResult::CURRENCY);
  EXPECT_EQ(p.direction(), v1::KeyResult::INCREASE);
  ASSERT_TRUE(p.has_stretch_target());
  EXPECT_DOUBLE_EQ(p.stretch_target(), 30);
  EXPECT_DOUBLE_EQ(p.progress(), KeyResultProgress(k));
  EXPECT_DOUBLE_EQ(p.progress(), 0.5);
  EXPECT_EQ(p.etag(), "kr-etag");
  EXPECT_EQ(p.revision(), 4);

  auto back = KeyResultFromProto(p, "key_result");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->title, k.title);
  EXPECT_EQ(back->measure, k.measure);
  EXPECT_EQ(back->currency_code, k.currency_code);
  EXPECT_EQ(back->direction, k.direction);
  EXPECT_EQ(back->baseline, k.baseline);
  EXPECT_EQ(back->target, k.target);
  EXPECT_EQ(back->stretch_target, k.stretch_target);
  EXPECT_EQ(back->current, k.current);
  EXPECT_EQ(back->unit, k.unit);
  EXPECT_EQ(back->weight, k.weight);
  EXPECT_EQ(back->kpi, k.kpi);
  EXPECT_TRUE(back->id.empty());

  // Masked but absent: the stretch target is cleared.
  p.clear_stretch_target();
  std::vector<std::string> mask = {"stretch_target"};
  auto patch = KeyResultFromProto(p, "key_result", &mask);
  ASSERT_THAT(patch, IsOk());
  EXPECT_FALSE(patch->stretch_target.has_value());
}

TEST(KeyResultConversion, RefusesValuesOutsideTheEnums) {
  v1::KeyResult p;
  p.set_measure(static_cast<v1::KeyResult::Measure>(6));
  p.set_direction(static_cast<v1::KeyResult::Direction>(5));
  auto k = KeyResultFromProto(p, "key_results[3]");
  EXPECT_THAT(k, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Fields(k), UnorderedElementsAre("key_results[3].measure",
                                              "key_results[3].direction"));
}

TEST(CheckInConversion, ValuesMustBelongToTheGoal) {
  v1::CheckIn p;
  auto* a = p.add_values();
  a->set_key_result("goals/g1/keyResults/k1");
  a->set_value(5);
  auto* b = p.add_values();
  b->set_key_result("goals/g2/keyResults/k2");
  auto* c = p.add_values();
  c->set_key_result("k3");
  p.set_status(static_cast<v1::Health>(4));
  auto in = CheckInFromProto(p, "g1");
  EXPECT_THAT(in, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Fields(in), UnorderedElementsAre("check_in.values[1].key_result",
                                               "check_in.values[2].key_result",
                                               "check_in.status"));
}

TEST(CheckInConversion, RoundTrips) {
  v1::CheckIn p;
  auto* a = p.add_values();
  a->set_key_result("goals/g1/keyResults/k1");
  a->set_value(5);
  p.set_confidence(0.8);
  p.set_status(v1::ON_TRACK);
  p.set_note("fine");
  auto in = CheckInFromProto(p, "g1");
  ASSERT_THAT(in, IsOk());
  EXPECT_EQ(in->goal_id, "g1");
  ASSERT_EQ(in->values.size(), 1u);
  EXPECT_EQ(in->values[0].key_result_id, "k1");
  EXPECT_EQ(in->values[0].value, 5);
  EXPECT_EQ(in->status, Health::kOnTrack);

  CheckIn c = *in;
  c.id = "c9";
  c.author_id = "p1";
  c.create_time = 5000000;
  c.progress = 0.25;
  v1::CheckIn out;
  ToProto(c, &out);
  EXPECT_EQ(out.name(), "goals/g1/checkIns/c9");
  EXPECT_EQ(out.author(), "people/p1");
  EXPECT_EQ(out.values(0).key_result(), "goals/g1/keyResults/k1");
  EXPECT_DOUBLE_EQ(out.confidence(), 0.8);
  EXPECT_EQ(out.status(), v1::ON_TRACK);
  EXPECT_EQ(out.note(), "fine");
  EXPECT_DOUBLE_EQ(out.progress(), 0.25);
  // A service's check-in has no author.
  c.author_id.clear();
  v1::CheckIn by_service;
  ToProto(c, &by_service);
  EXPECT_TRUE(by_service.author().empty());
}

TEST(CycleConversion, RoundTripsAndChecksState) {
  Cycle c;
  c.id = "c1";
  c.display_name = "Q1";
  c.start_date = "2025-01-01";
  c.end_date = "2025-03-31";
  c.state = CycleState::kClosed;
  c.create_time = 1;
  c.update_time = 2;
  c.close_time = 3;
  v1::Cycle p;
  ToProto(c, "ce", &p);
  EXPECT_EQ(p.name(), "cycles/c1");
  EXPECT_EQ(p.state(), v1::Cycle::CLOSED);
  EXPECT_EQ(p.etag(), "ce");
  EXPECT_TRUE(p.has_close_time());
  auto back = CycleFromProto(p);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->display_name, "Q1");
  EXPECT_EQ(back->start_date, c.start_date);
  EXPECT_EQ(back->end_date, c.end_date);
  EXPECT_EQ(back->state, CycleState::kClosed);

  c.close_time = 0;
  v1::Cycle open;
  ToProto(c, "ce", &open);
  EXPECT_FALSE(open.has_close_time());

  p.set_state(static_cast<v1::Cycle::State>(4));
  EXPECT_THAT(Fields(CycleFromProto(p)), ElementsAre("cycle.state"));
}

TEST(RevisionConversion, NamesTheRevision) {
  Revision r;
  r.goal_id = "g1";
  r.revision = 12;
  r.actor = "people/p1";
  r.time = 3000000;
  r.reason = "replanned";
  r.target = "goals/g1/keyResults/k1";
  r.action = "UPDATE";
  r.changes.push_back({"target", "10", "20"});
  v1::GoalRevision p;
  ToProto(r, &p);
  EXPECT_EQ(p.name(), "goals/g1/revisions/12");
  EXPECT_EQ(p.revision(), 12);
  EXPECT_EQ(p.actor(), "people/p1");
  EXPECT_EQ(p.time().seconds(), 3);
  EXPECT_EQ(p.reason(), "replanned");
  EXPECT_EQ(p.target(), "goals/g1/keyResults/k1");
  EXPECT_EQ(p.action(), "UPDATE");
  ASSERT_EQ(p.changes_size(), 1);
  EXPECT_EQ(p.changes(0).field(), "target");
  EXPECT_EQ(p.changes(0).old_value(), "10");
  EXPECT_EQ(p.changes(0).new_value(), "20");
}

TEST(AlignmentNodeConversion, RestrictedNodesShowOnlyWhereTheySit) {
  TreeNode n;
  n.id = "g2";
  n.parent_id = "g1";
  n.depth = 1;
  n.restricted = true;
  // Set even though restricted: the conversion must not show it.
  auto g = std::make_shared<Goal>();
  n.goal = g;
  g->title = "secret";
  g->owner.person_id = "p9";
  g->progress = 0.9;
  v1::AlignmentNode p;
  ToProto(n, &p);
  EXPECT_EQ(p.name(), "goals/g2");
  EXPECT_EQ(p.parent(), "goals/g1");
  EXPECT_EQ(p.depth(), 1);
  EXPECT_TRUE(p.restricted());
  EXPECT_TRUE(p.title().empty());
  EXPECT_TRUE(p.owner().empty());
  EXPECT_EQ(p.progress(), 0);

  n.restricted = false;
  g->level = Level::kIndividual;
  g->state = GoalState::kActive;
  g->weight = 2;
  n.expected_progress = 0.5;
  n.health = Health::kAtRisk;
  v1::AlignmentNode open;
  ToProto(n, &open);
  EXPECT_FALSE(open.restricted());
  EXPECT_EQ(open.title(), "secret");
  EXPECT_EQ(open.owner(), "people/p9");
  EXPECT_EQ(open.level(), v1::INDIVIDUAL);
  EXPECT_EQ(open.state(), v1::Goal::ACTIVE);
  EXPECT_DOUBLE_EQ(open.progress(), 0.9);
  EXPECT_DOUBLE_EQ(open.expected_progress(), 0.5);
  EXPECT_EQ(open.health(), v1::AT_RISK);
  EXPECT_DOUBLE_EQ(open.weight(), 2);
}

TEST(ChunkNodes, SplitsInOrder) {
  std::vector<TreeNode> nodes(2500);
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i].id = absl::StrCat("n", i);
  auto chunks = ChunkNodes(nodes, 1000);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].nodes_size(), 1000);
  EXPECT_EQ(chunks[1].nodes_size(), 1000);
  EXPECT_EQ(chunks[2].nodes_size(), 500);
  EXPECT_EQ(chunks[1].nodes(0).name(), "goals/n1000");
  EXPECT_EQ(chunks[2].nodes(499).name(), "goals/n2499");
  EXPECT_TRUE(ChunkNodes({}, 1000).empty());
  EXPECT_EQ(ChunkNodes(std::vector<TreeNode>(1000), 1000).size(), 1u);
}

TEST(ParseAsOf, PastOnly) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  v1::GetGoalRequest req;
  auto unset = ParseAsOf(req, now);
  ASSERT_THAT(unset, IsOk());
  EXPECT_FALSE(unset->has_value());

  req.mutable_as_of()->set_seconds(1600000000);
  req.mutable_as_of()->set_nanos(500000000);
  auto past = ParseAsOf(req, now);
  ASSERT_THAT(past, IsOk());
  EXPECT_EQ(**past, absl::FromUnixMillis(1600000000500));

  req.mutable_as_of()->set_seconds(1700000001);
  req.mutable_as_of()->set_nanos(0);
  EXPECT_THAT(Fields(ParseAsOf(req, now)), ElementsAre("as_of"));
  req.mutable_as_of()->set_seconds(1);
  req.mutable_as_of()->set_nanos(-1);
  EXPECT_THAT(Fields(ParseAsOf(req, now)), ElementsAre("as_of"));
  req.mutable_as_of()->set_nanos(0);
  req.mutable_as_of()->set_seconds(-62135596801);
  EXPECT_THAT(ParseAsOf(req, now),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---- fakes
// -----------------------------------------------------------------------

GoalRow RowOf(const Goal& g) {
  GoalRow r;
  r.id = g.id;
  r.parent_id = g.parent_id;
  r.cycle_id = g.cycle_id;
  r.title = g.title;
  r.owner = g.owner;
  r.contributor_ids = g.contributor_ids;
  r.level = g.level;
  r.state = g.state;
  r.visibility = g.visibility;
  r.weight = g.weight;
  r.progress = g.progress;
  r.start_date = g.start_date;
  r.due_date = g.due_date;
  return r;
}

// Goals and cycles in maps; filled before any call, read-only during calls.
class FakeRepo : public GoalRepository {
 public:
  std::map<std::string, Goal> goals;
  std::set<std::string> in_memory;  // what PeekGoal answers
  std::map<std::string, Cycle> cycles;
  std::atomic<int> get_goal_calls{0};

  absl::StatusOr<Cycle> GetCycle(const std::string& id) override {
    auto it = cycles.find(id);
    if (it == cycles.end()) return absl::NotFoundError("no such cycle");
    return it->second;
  }
  absl::StatusOr<std::vector<Cycle>> ListCycles(int state,
                                                const Page& page) override {
    std::vector<Cycle> out;
    for (const auto& [id, c] : cycles) {
      if (id <= page.after) continue;
      if (state != 0 && static_cast<int>(c.state) != state) continue;
      if (static_cast<int>(out.size()) == page.limit) break;
      out.push_back(c);
    }
    return out;
  }
  absl::StatusOr<Goal> GetGoal(const std::string& id) override {
    ++get_goal_calls;
    auto it = goals.find(id);
    if (it == goals.end()) {
      return absl::NotFoundError(absl::StrCat("goals/", id, " does not exist"));
    }
    return it->second;
  }
  std::shared_ptr<const CachedGoal> PeekGoal(const std::string& id) override {
    if (!in_memory.contains(id)) return nullptr;
    auto it = goals.find(id);
    if (it == goals.end()) return nullptr;
    return std::make_shared<const CachedGoal>(it->second);
  }
  absl::StatusOr<std::vector<Goal>> ListGoals(const GoalQuery&,
                                              const Page&) override {
    return absl::UnimplementedError("ListGoals");
  }
  absl::StatusOr<std::vector<KeyResult>> ListKeyResults(
      const std::string&) override {
    return absl::UnimplementedError("ListKeyResults");
  }
  absl::StatusOr<CheckIn> GetCheckIn(const std::string&) override {
    return absl::UnimplementedError("GetCheckIn");
  }
  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const std::string&, const std::string&, const std::string&) override {
    return std::optional<std::string>();  // nothing stored
  }
  absl::StatusOr<std::vector<CheckIn>> ListCheckIns(const std::string&,
                                                    const Page&) override {
    return absl::UnimplementedError("ListCheckIns");
  }
  absl::StatusOr<std::vector<Revision>> ListRevisions(const std::string&,
                                                      const Page&) override {
    return absl::UnimplementedError("ListRevisions");
  }
  // No history here: a goal at any time is the goal as it is.
  absl::StatusOr<std::optional<Snapshot>> SnapshotAt(const std::string& id,
                                                     int64_t) override {
    auto it = goals.find(id);
    if (it == goals.end()) return std::optional<Snapshot>();
    Snapshot s;
    s.goal = it->second;
    return std::optional<Snapshot>(std::move(s));
  }
  absl::StatusOr<std::vector<GoalRow>> RowsOfCycle(
      const std::string& cycle_id) override {
    std::vector<GoalRow> out;
    for (const auto& [id, g] : goals) {
      if (g.cycle_id == cycle_id) out.push_back(RowOf(g));
    }
    return out;
  }
  absl::StatusOr<std::vector<GoalRow>> ChildRows(
      const std::vector<std::string>& parent_ids) override {
    std::set<std::string> parents(parent_ids.begin(), parent_ids.end());
    std::vector<GoalRow> out;
    for (const auto& [id, g] : goals) {
      if (parents.contains(g.parent_id)) out.push_back(RowOf(g));
    }
    return out;
  }
  absl::StatusOr<std::vector<GoalRow>> Rows(
      const std::vector<std::string>& ids) override {
    std::vector<GoalRow> out;
    for (const auto& id : ids) {
      auto it = goals.find(id);
      if (it != goals.end()) out.push_back(RowOf(it->second));
    }
    return out;
  }
  absl::StatusOr<std::vector<GoalRow>> RowsOfPeople(
      const std::vector<std::string>&) override {
    return absl::UnimplementedError("RowsOfPeople");
  }
  absl::StatusOr<std::vector<GoalRow>> LiveRows() override {
    return absl::UnimplementedError("LiveRows");
  }
  absl::Status Write(absl::string_view,
                     const std::function<absl::Status(GoalTx&)>&,
                     int64_t*) override {
    return absl::UnimplementedError("Write");
  }
};

// Active people without teams or managers.
class FakeOrg : public OrgService {
 public:
  std::set<std::string> people;

  std::optional<PersonInfo> Person(const std::string& id) const override {
    if (!people.contains(id)) return std::nullopt;
    PersonInfo p;
    p.id = id;
    return p;
  }
  std::optional<TeamInfo> Team(const std::string&) const override {
    return std::nullopt;
  }
  absl::StatusOr<Caller> ResolveCaller(const auth::Principal&, bool) override {
    return absl::UnimplementedError("the handler resolves callers itself");
  }
  absl::Status ValidatePeople(const std::vector<std::string>&,
                              const std::vector<std::string>&) override {
    return absl::OkStatus();
  }
  absl::Status ValidateTeam(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string&) override {
    return std::vector<std::string>();
  }
  std::vector<std::string> TeamMembers(const std::string&) const override {
    return {};
  }
  std::vector<std::string> Reports(const std::string&, bool) const override {
    return {};
  }
};

Goal ActiveGoal(const std::string& id, const std::string& owner,
                Visibility visibility) {
  Goal g;
  g.id = id;
  g.title = absl::StrCat("Goal ", id);
  g.owner.person_id = owner;
  g.cycle_id = "c1";
  g.start_date = "2025-01-01";
  g.due_date = "2025-06-30";
  g.visibility = visibility;
  g.state = GoalState::kActive;
  g.revision = 3;
  return g;
}

absl::Time TestNow() {
  return absl::FromCivil(absl::CivilDay(2025, 3, 1), absl::UTCTimeZone());
}

Caller PersonCaller(const std::string& id) {
  Caller c;
  c.person_id = id;
  return c;
}

// ---- watch rendering
// ---------------------------------------------------------------

class RenderChangeTest : public ::testing::Test {
 protected:
  RenderChangeTest() : service_(&repo_, &org_, GoalsOptions(), TestNow) {
    org_.people = {"p1", "p2"};
    repo_.goals["pub"] = ActiveGoal("pub", "p1", Visibility::kPublic);
    repo_.goals["priv"] = ActiveGoal("priv", "p1", Visibility::kPrivate);
  }

  storage::ChangeRow Row(const char* entity, std::string payload,
                         std::string scope, int kind = 2) {
    storage::ChangeRow r;
    r.seq = 42;
    r.commit_time_micros = 1700000000000000;
    r.entity = entity;
    r.kind = kind;
    r.payload = std::move(payload);
    r.scope = std::move(scope);
    return r;
  }

  FakeRepo repo_;
  FakeOrg org_;
  GoalsService service_;
};

TEST_F(RenderChangeTest, GoalEventsFollowReadAccess) {
  auto row = Row(kGoalEntity, Encode(repo_.goals["priv"]), "priv", 1);
  auto owner = RenderChange(service_, PersonCaller("p1"), row, "tok");
  ASSERT_THAT(owner, IsOk());
  ASSERT_TRUE(owner->has_value());
  EXPECT_EQ((*owner)->change_type(), v1::WatchGoalsResponse::CREATED);
  EXPECT_EQ((*owner)->goal().name(), "goals/priv");
  EXPECT_EQ((*owner)->goal().etag(), service_.Etag(repo_.goals["priv"]));
  EXPECT_EQ((*owner)->resume_token(), "tok");
  EXPECT_EQ((*owner)->commit_time().seconds(), 1700000000);

  auto other = RenderChange(service_, PersonCaller("p2"), row, "tok");
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->has_value());

  Caller svc;
  svc.service = true;
  auto by_service = RenderChange(service_, svc, row, "tok");
  ASSERT_THAT(by_service, IsOk());
  EXPECT_TRUE(by_service->has_value());

  auto pub =
      RenderChange(service_, Caller(),
                   Row(kGoalEntity, Encode(repo_.goals["pub"]), "pub", 3), "t");
  ASSERT_THAT(pub, IsOk());
  ASSERT_TRUE(pub->has_value());
  EXPECT_EQ((*pub)->change_type(), v1::WatchGoalsResponse::DELETED);
}

TEST_F(RenderChangeTest, KeyResultsAndCheckInsFollowTheirGoal) {
  KeyResult k;
  k.id = "k1";
  k.goal_id = "priv";
  k.title = "kr";
  CheckIn c;
  c.id = "c1";
  c.goal_id = "priv";
  c.author_id = "p1";
  for (auto row : {Row(kKeyResultEntity, Encode(k), "priv"),
                   Row(kCheckInEntity, Encode(c), "priv", 1)}) {
    auto seen = RenderChange(service_, PersonCaller("p1"), row, "t");
    ASSERT_THAT(seen, IsOk());
    ASSERT_TRUE(seen->has_value()) << row.entity;
    auto hidden = RenderChange(service_, PersonCaller("p2"), row, "t");
    ASSERT_THAT(hidden, IsOk());
    EXPECT_FALSE(hidden->has_value()) << row.entity;
  }
  auto kr = RenderChange(service_, PersonCaller("p1"),
                         Row(kKeyResultEntity, Encode(k), "priv"), "t");
  EXPECT_EQ((*kr)->key_result().name(), "goals/priv/keyResults/k1");
  EXPECT_EQ((*kr)->key_result().etag(), service_.Etag(k));
  auto ci = RenderChange(service_, PersonCaller("p1"),
                         Row(kCheckInEntity, Encode(c), "priv"), "t");
  EXPECT_EQ((*ci)->check_in().author(), "people/p1");

  // A goal that is gone shows nothing of what belonged to it.
  k.goal_id = "gone";
  auto orphan = RenderChange(service_, PersonCaller("p1"),
                             Row(kKeyResultEntity, Encode(k), "gone"), "t");
  ASSERT_THAT(orphan, IsOk());
  EXPECT_FALSE(orphan->has_value());
}

TEST_F(RenderChangeTest, CyclesAreForEveryone) {
  Cycle c;
  c.id = "c1";
  c.display_name = "Q1";
  c.revision = 2;
  auto out =
      RenderChange(service_, Caller(), Row(kCycleEntity, Encode(c), ""), "t");
  ASSERT_THAT(out, IsOk());
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->cycle().name(), "cycles/c1");
  EXPECT_EQ((*out)->cycle().etag(), service_.Etag(c));
}

TEST_F(RenderChangeTest, BrokenRowsFailLoudlyAndUnknownEntitiesAreSkipped) {
  EXPECT_THAT(RenderChange(service_, Caller(),
                           Row(kGoalEntity, "\xff\xff garbage", "x"), "t"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(
      RenderChange(service_, Caller(),
                   Row(kGoalEntity, Encode(repo_.goals["pub"]), "pub", 0), "t"),
      StatusIs(absl::StatusCode::kDataLoss));
  auto other = RenderChange(service_, Caller(), Row("person", "", ""), "t");
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->has_value());
}

// ---- in-process server
// ---------------------------------------------------------------

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test";

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    org_.people = {"p1", "p2"};
    repo_.cycles["c1"] = Cycle();
    repo_.cycles["c1"].id = "c1";
    repo_.cycles["c1"].state = CycleState::kActive;
    for (const char* id : {"c2", "c3"}) {
      Cycle c;
      c.id = id;
      c.state = CycleState::kPlanning;
      repo_.cycles[id] = c;
    }
    auto runtime =
        ::sightline::testing::HandlerRuntime("goals-handler-test", kSecret);
    ASSERT_THAT(runtime, IsOk());
    runtime_ = std::move(*runtime);
    service_ =
        std::make_unique<GoalsService>(&repo_, &org_, GoalsOptions(), TestNow);
    auto resolve = [this](const auth::Principal& p,
                          bool fresh) -> absl::StatusOr<Caller> {
      {
        absl::MutexLock lock(&mu_);
        resolved_.push_back(fresh);
      }
      if (fresh && people_down_) {
        return absl::UnavailableError("people service unreachable");
      }
      Caller c;
      c.service = p.IsService();
      if (absl::StartsWith(p.subject, "people/")) {
        c.person_id = p.subject.substr(7);
      }
      return c;
    };
    handler_ = std::make_unique<GoalsHandler>(
        runtime_.get(), service_.get(), resolve,
        server::ChangeStreamDeps{runtime_.get(), nullptr, nullptr, nullptr,
                                 "goals"});
    int port = 0;
    server_ = ::sightline::testing::ServeOnLoopback(handler_.get(), &port);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::GoalService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A client context carrying a token for `subject`.
  std::unique_ptr<grpc::ClientContext> As(const std::string& subject) {
    return ::sightline::testing::ContextAs(kSecret, subject);
  }

  std::vector<bool> Resolved() {
    absl::MutexLock lock(&mu_);
    return resolved_;
  }

  grpc::Status Tree(const v1::GetAlignmentTreeRequest& req,
                    const std::string& subject,
                    std::vector<v1::AlignmentTreeChunk>* chunks) {
    auto ctx = As(subject);
    auto reader = stub_->GetAlignmentTree(ctx.get(), req);
    v1::AlignmentTreeChunk chunk;
    while (reader->Read(&chunk)) chunks->push_back(chunk);
    return reader->Finish();
  }

  FakeRepo repo_;
  FakeOrg org_;
  absl::Mutex mu_;
  std::vector<bool> resolved_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> people_down_{false};
  std::unique_ptr<server::Runtime> runtime_;
  std::unique_ptr<GoalsService> service_;
  std::unique_ptr<GoalsHandler> handler_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::GoalService::Stub> stub_;
};

TEST_F(HandlerTest, RefusesCallsWithoutAToken) {
  v1::GetGoalRequest req;
  req.set_name("goals/pub");
  v1::Goal resp;
  EXPECT_THAT(stub_->GetGoal(As("").get(), req, &resp),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  std::vector<v1::AlignmentTreeChunk> chunks;
  v1::GetAlignmentTreeRequest tree;
  tree.set_goal("goals/pub");
  EXPECT_THAT(Tree(tree, "", &chunks),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_TRUE(Resolved().empty());
}

TEST_F(HandlerTest, GetGoalAnswersWarmReadsFromMemory) {
  repo_.goals["pub"] = ActiveGoal("pub", "p1", Visibility::kPublic);
  repo_.in_memory.insert("pub");
  v1::GetGoalRequest req;
  req.set_name("goals/pub");
  v1::Goal resp;
  ASSERT_THAT(stub_->GetGoal(As("people/p2").get(), req, &resp),
              GrpcStatusIs(grpc::StatusCode::OK));
  EXPECT_EQ(resp.name(), "goals/pub");
  EXPECT_EQ(resp.owner(), "people/p1");
  EXPECT_EQ(resp.etag(), service_->Etag(repo_.goals["pub"]));
  EXPECT_EQ(resp.revision(), 3);
  EXPECT_GT(resp.expected_progress(), 0);
  EXPECT_EQ(repo_.get_goal_calls.load(), 0);
  EXPECT_THAT(Resolved(), ElementsAre(false));
}

TEST_F(HandlerTest, GetGoalWarmAnswerEqualsTheColdOne) {
  Goal g = ActiveGoal("pub", "p1", Visibility::kPublic);
  g.progress = 0.1;  // behind the expected share
  g.tags = {"growth", "q1"};
  g.last_check_in_status = Health::kAtRisk;
  repo_.goals["pub"] = g;
  v1::GetGoalRequest req;
  req.set_name("goals/pub");
  v1::Goal cold;
  ASSERT_THAT(stub_->GetGoal(As("people/p2").get(), req, &cold),
              GrpcStatusIs(grpc::StatusCode::OK));
  EXPECT_EQ(repo_.get_goal_calls.load(), 1);
  repo_.in_memory.insert("pub");
  for (int i = 0; i < 2; ++i) {  // rendered once, then reused
    v1::Goal warm;
    ASSERT_THAT(stub_->GetGoal(As("people/p2").get(), req, &warm),
                GrpcStatusIs(grpc::StatusCode::OK));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(warm, cold))
        << warm.DebugString() << " vs " << cold.DebugString();
  }
  EXPECT_EQ(repo_.get_goal_calls.load(), 1);
  EXPECT_GT(cold.expected_progress(), 0.3);
  EXPECT_EQ(cold.health(), v1::AT_RISK);  // no better than the check-in
  EXPECT_EQ(cold.tags_size(), 2);
}

TEST_F(HandlerTest, GetGoalHidesPrivateGoalsOnBothPaths) {
  repo_.goals["priv"] = ActiveGoal("priv", "p1", Visibility::kPrivate);
  repo_.goals["cold"] = ActiveGoal("cold", "p1", Visibility::kPrivate);
  repo_.in_memory.insert("priv");
  for (const char* name : {"goals/priv", "goals/cold"}) {
    v1::GetGoalRequest req;
    req.set_name(name);
    v1::Goal resp;
    EXPECT_THAT(stub_->GetGoal(As("people/p2").get(), req, &resp),
                GrpcStatusIs(grpc::StatusCode::NOT_FOUND))
        << name;
    EXPECT_THAT(stub_->GetGoal(As("people/p1").get(), req, &resp),
                GrpcStatusIs(grpc::StatusCode::OK))
        << name;
    EXPECT_EQ(resp.name(), name);
  }
  // Only the goal not held in memory went to the repository.
  EXPECT_EQ(repo_.get_goal_calls.load(), 2);
  for (bool fresh : Resolved()) EXPECT_FALSE(fresh);
}

TEST_F(HandlerTest, GetGoalValidatesNameAndAsOf) {
  v1::GetGoalRequest req;
  req.set_name("goal/x");
  v1::Goal resp;
  auto st = stub_->GetGoal(As("people/p1").get(), req, &resp);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st), ElementsAre("name"));

  req.set_name("goals/x");
  req.mutable_as_of()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  st = stub_->GetGoal(As("people/p1").get(), req, &resp);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st), ElementsAre("as_of"));
  EXPECT_TRUE(Resolved().empty());
}

TEST_F(HandlerTest, ListCyclesPagesWithBoundTokens) {
  v1::ListCyclesRequest req;
  req.set_page_size(2);
  v1::ListCyclesResponse first;
  ASSERT_THAT(stub_->ListCycles(As("people/p1").get(), req, &first),
              GrpcStatusIs(grpc::StatusCode::OK));
  ASSERT_EQ(first.cycles_size(), 2);
  EXPECT_EQ(first.cycles(0).name(), "cycles/c1");
  EXPECT_EQ(first.cycles(1).name(), "cycles/c2");
  EXPECT_EQ(first.cycles(0).etag(), service_->Etag(repo_.cycles["c1"]));
  ASSERT_FALSE(first.next_page_token().empty());

  req.set_page_token(first.next_page_token());
  v1::ListCyclesResponse second;
  ASSERT_THAT(stub_->ListCycles(As("people/p1").get(), req, &second),
              GrpcStatusIs(grpc::StatusCode::OK));
  ASSERT_EQ(second.cycles_size(), 1);
  EXPECT_EQ(second.cycles(0).name(), "cycles/c3");
  EXPECT_TRUE(second.next_page_token().empty());

  // The token was issued for "any state".
  req.set_state(v1::Cycle::PLANNING);
  v1::ListCyclesResponse other;
  auto st = stub_->ListCycles(As("people/p1").get(), req, &other);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st), ElementsAre("page_token"));

  req.clear_page_token();
  req.set_page_size(-1);
  st = stub_->ListCycles(As("people/p1").get(), req, &other);
  EXPECT_THAT(Fields(st), ElementsAre("page_size"));

  req.set_page_size(0);
  req.set_state(static_cast<v1::Cycle::State>(8));
  st = stub_->ListCycles(As("people/p1").get(), req, &other);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st), ElementsAre("state"));
}

TEST_F(HandlerTest, WritesResolveFreshAndPassOnUnavailable) {
  people_down_ = true;
  v1::CreateCycleRequest req;
  req.mutable_cycle()->set_display_name("Q3");
  req.mutable_cycle()->set_start_date("2025-07-01");
  req.mutable_cycle()->set_end_date("2025-09-30");
  req.set_request_id("r-1");
  v1::Cycle resp;
  EXPECT_THAT(stub_->CreateCycle(As("people/p1").get(), req, &resp),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  EXPECT_THAT(Resolved(), ElementsAre(true));

  // Bad input is refused before anyone is asked.
  req.set_request_id(std::string(129, 'x'));
  auto st = stub_->CreateCycle(As("people/p1").get(), req, &resp);
  EXPECT_THAT(Fields(st), ElementsAre("request_id"));
  req.set_request_id("r-2");
  req.mutable_cycle()->set_state(static_cast<v1::Cycle::State>(5));
  st = stub_->CreateCycle(As("people/p1").get(), req, &resp);
  EXPECT_THAT(Fields(st), ElementsAre("cycle.state"));
  EXPECT_THAT(Resolved(), ElementsAre(true));
}

TEST_F(HandlerTest, CreateGoalNamesEveryBadReference) {
  v1::CreateGoalRequest req;
  req.mutable_goal()->set_title("t");
  req.mutable_goal()->set_owner("person/p1");
  req.mutable_goal()->add_contributors("people/p2");
  req.mutable_goal()->add_contributors("p3");
  req.add_key_results()->set_measure(static_cast<v1::KeyResult::Measure>(77));
  v1::Goal resp;
  auto st = stub_->CreateGoal(As("people/p1").get(), req, &resp);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st),
              UnorderedElementsAre("goal.owner", "goal.contributors[1]",
                                   "key_results[0].measure"));
  EXPECT_TRUE(Resolved().empty());
}

TEST_F(HandlerTest, RequestsNameTheirMissingOrMalformedFields) {
  v1::ListDueCheckInsRequest due;
  v1::ListDueCheckInsResponse due_resp;
  EXPECT_THAT(
      Fields(stub_->ListDueCheckIns(As("people/p1").get(), due, &due_resp)),
      ElementsAre("subject"));

  v1::UpdateKeyResultRequest kr;
  kr.mutable_key_result()->set_name("goals/g1/keyResult/k1");
  v1::KeyResult kr_resp;
  EXPECT_THAT(
      Fields(stub_->UpdateKeyResult(As("people/p1").get(), kr, &kr_resp)),
      ElementsAre("key_result.name"));

  v1::CreateCheckInRequest ci;
  ci.set_parent("goals/g1");
  ci.mutable_check_in()->add_values()->set_key_result("goals/g2/keyResults/k1");
  v1::CheckIn ci_resp;
  EXPECT_THAT(Fields(stub_->CreateCheckIn(As("people/p1").get(), ci, &ci_resp)),
              ElementsAre("check_in.values[0].key_result"));

  v1::CreateKeyResultRequest create_kr;
  create_kr.set_parent("goals/g1");
  create_kr.mutable_key_result()->set_name("goals/g2/keyResults/k1");
  EXPECT_THAT(Fields(stub_->CreateKeyResult(As("people/p1").get(), create_kr,
                                            &kr_resp)),
              ElementsAre("key_result.name"));

  v1::BatchCreateGoalsRequest batch;
  v1::BatchCreateGoalsResponse batch_resp;
  EXPECT_THAT(Fields(stub_->BatchCreateGoals(As("people/p1").get(), batch,
                                             &batch_resp)),
              ElementsAre("audience"));

  v1::ListGoalsRequest list;
  list.set_owner("goals/g1");
  list.set_health(static_cast<v1::Health>(9));
  v1::ListGoalsResponse list_resp;
  EXPECT_THAT(Fields(stub_->ListGoals(As("people/p1").get(), list, &list_resp)),
              UnorderedElementsAre("owner", "health"));

  v1::UpdateGoalRequest update;
  update.mutable_goal()->set_name("goals/g1");
  update.mutable_goal()->set_owner("nobody");
  update.mutable_update_mask()->add_paths("owner");
  v1::Goal goal_resp;
  EXPECT_THAT(
      Fields(stub_->UpdateGoal(As("people/p1").get(), update, &goal_resp)),
      ElementsAre("goal.owner"));
  EXPECT_TRUE(Resolved().empty());
}

TEST_F(HandlerTest, AlignmentTreeStreamsChunksParentsFirst) {
  repo_.goals["root"] = ActiveGoal("root", "p1", Visibility::kPublic);
  for (int i = 0; i < 2499; ++i) {
    std::string id = absl::StrFormat("k%04d", i);
    Goal g = ActiveGoal(id, "p1", Visibility::kPublic);
    g.parent_id = "root";
    if (i == 7) g.visibility = Visibility::kPrivate;
    repo_.goals[id] = g;
  }
  v1::GetAlignmentTreeRequest req;
  req.set_goal("goals/root");
  std::vector<v1::AlignmentTreeChunk> chunks;
  ASSERT_THAT(Tree(req, "people/p2", &chunks),
              GrpcStatusIs(grpc::StatusCode::OK));
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].nodes_size(), 1000);
  EXPECT_EQ(chunks[1].nodes_size(), 1000);
  EXPECT_EQ(chunks[2].nodes_size(), 500);
  const auto& root = chunks[0].nodes(0);
  EXPECT_EQ(root.name(), "goals/root");
  EXPECT_EQ(root.depth(), 0);
  EXPECT_EQ(root.title(), "Goal root");
  const auto& hidden = chunks[0].nodes(8);
  EXPECT_EQ(hidden.name(), "goals/k0007");
  EXPECT_TRUE(hidden.restricted());
  EXPECT_EQ(hidden.parent(), "goals/root");
  EXPECT_EQ(hidden.depth(), 1);
  EXPECT_TRUE(hidden.title().empty());
  EXPECT_EQ(chunks[2].nodes(499).name(), "goals/k2498");
}

TEST_F(HandlerTest, AlignmentTreeEndsWhenTheClientCancels) {
  repo_.goals["root"] = ActiveGoal("root", "p1", Visibility::kPublic);
  for (int i = 0; i < 4999; ++i) {
    std::string id = absl::StrFormat("k%04d", i);
    Goal g = ActiveGoal(id, "p1", Visibility::kPublic);
    g.parent_id = "root";
    repo_.goals[id] = g;
  }
  v1::GetAlignmentTreeRequest req;
  req.set_goal("goals/root");
  auto ctx = As("people/p1");
  auto reader = stub_->GetAlignmentTree(ctx.get(), req);
  v1::AlignmentTreeChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_EQ(chunk.nodes_size(), 1000);
  ctx->TryCancel();
  int more = 0;
  while (reader->Read(&chunk)) ++more;
  EXPECT_LT(more, 4);
  EXPECT_THAT(reader->Finish(), GrpcStatusIs(grpc::StatusCode::CANCELLED));
}

TEST_F(HandlerTest, AlignmentTreeValidatesItsRoot) {
  std::vector<v1::AlignmentTreeChunk> chunks;
  v1::GetAlignmentTreeRequest req;
  auto st = Tree(req, "people/p1", &chunks);
  EXPECT_THAT(st, GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(Fields(st), ElementsAre("root"));

  req.set_team("teams/t1");
  st = Tree(req, "people/p1", &chunks);
  EXPECT_THAT(Fields(st), ElementsAre("cycle"));

  req.set_company(true);
  req.set_cycle("q1");
  st = Tree(req, "people/p1", &chunks);
  EXPECT_THAT(Fields(st), ElementsAre("cycle"));

  req.clear_cycle();
  req.set_goal("goals/missing");
  EXPECT_THAT(Tree(req, "people/p1", &chunks),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));

  req.set_depth(-1);
  st = Tree(req, "people/p1", &chunks);
  EXPECT_THAT(Fields(st), ElementsAre("depth"));
  EXPECT_TRUE(chunks.empty());
}

}  // namespace
}  // namespace sightline::goals
