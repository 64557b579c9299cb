// sightline-bench-scorecard: GetScorecard of a team for `make bench`.
//
//   sightline-bench-scorecard seed --people_target=A --goals_target=A
//       --feedback_target=A --metrics_target=A --jwt_key_file=K
//       --lead_external_id=E000001
//       The team the person --lead_external_id leads (in the generated org:
//       T000001, 200 people when the org has 2,000 people in 10 teams): for
//       every member, a PUBLIC and a PRIVATE goal (BatchCreateGoals), a
//       CUSTOMER feedback, and a KPI (visibility and perspective in turn)
//       with a target and a point; and one KPI of the team. Written with a
//       service token. Prints team=, lead=, members=, goals=, kpis=.
//   sightline-bench-scorecard measure --metrics_target=A --jwt_key_file=K
//       --team=teams/T --lead=people/P --runs=N
//       GetScorecard of the team for this month as its lead: the first call
//       (cold: the caller's first, on a metrics service just started), then
//       N more one after another (warm). Every answer must be complete (no
//       part missing) and count goals and KPIs. Prints scorecard_* figures.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "lib/auth/jwt.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"
#include "sightline/goals/v1/goal_service.grpc.pb.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"
#include "sightline/people/v1/people_service.grpc.pb.h"

ABSL_FLAG(std::string, people_target, "", "The people service.");
ABSL_FLAG(std::string, goals_target, "", "The goals service.");
ABSL_FLAG(std::string, feedback_target, "", "The feedback service.");
ABSL_FLAG(std::string, metrics_target, "", "The metrics service.");
ABSL_FLAG(std::string, jwt_key_file, "", "The HS256 secret.");
ABSL_FLAG(std::string, lead_external_id, "E000001",
          "seed: the HRIS key of the team's lead.");
ABSL_FLAG(std::string, team, "", "measure: teams/{team}.");
ABSL_FLAG(std::string, lead, "", "measure: people/{person}, the caller.");
ABSL_FLAG(int, runs, 50, "measure: warm calls.");

namespace {

namespace pv1 = ::sightline::people::v1;
namespace gv1 = ::sightline::goals::v1;
namespace fv1 = ::sightline::feedback::v1;
namespace mv1 = ::sightline::metrics::v1;
using google::protobuf::util::TimeUtil;
using sightline::auth::Role;

int Fail(const std::string& why) {
  std::fprintf(stderr, "bench-scorecard: %s\n", why.c_str());
  return 1;
}

std::string Token(const std::string& subject, std::vector<Role> roles) {
  auto key = sightline::auth::ReadKeyFile(absl::GetFlag(FLAGS_jwt_key_file));
  if (!key.ok()) return "";
  sightline::auth::MintOptions m;
  m.key = *key;
  m.subject = subject;
  m.roles = std::move(roles);
  m.ttl = absl::Hours(2);
  auto t = sightline::auth::Mint(m);
  return t.ok() ? *t : "";
}

template <typename Service>
std::unique_ptr<typename Service::Stub> Connect(const std::string& target) {
  return Service::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

void Prepare(grpc::ClientContext* ctx, const std::string& token) {
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), " ", s.error_message());
}

int Seed() {
  const std::string service = Token("bench-scorecard", {Role::kService});
  if (service.empty()) return Fail("cannot mint a token (--jwt_key_file)");
  auto people = Connect<pv1::PeopleService>(absl::GetFlag(FLAGS_people_target));
  auto goals = Connect<gv1::GoalService>(absl::GetFlag(FLAGS_goals_target));
  auto feedback =
      Connect<fv1::FeedbackService>(absl::GetFlag(FLAGS_feedback_target));
  auto metrics =
      Connect<mv1::MetricsService>(absl::GetFlag(FLAGS_metrics_target));

  // The lead, the team they belong to and lead, and its members.
  pv1::Person lead;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    pv1::LookupPersonRequest req;
    req.set_external_id(absl::GetFlag(FLAGS_lead_external_id));
    if (auto s = people->LookupPerson(&ctx, req, &lead); !s.ok())
      return Fail("lookup of the lead: " + Describe(s));
  }
  const std::string team = lead.team();
  std::vector<std::string> members;
  pv1::ListPeopleRequest list;
  list.set_team(team);
  list.set_page_size(1000);
  for (;;) {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    pv1::ListPeopleResponse resp;
    if (auto s = people->ListPeople(&ctx, list, &resp); !s.ok())
      return Fail("list people: " + Describe(s));
    for (const auto& p : resp.people()) {
      if (p.status() != pv1::Person::TERMINATED) members.push_back(p.name());
    }
    if (resp.next_page_token().empty()) break;
    list.set_page_token(resp.next_page_token());
  }

  // A cycle around now, and two goals per member.
  absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  gv1::Cycle cycle;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    gv1::CreateCycleRequest req;
    req.mutable_cycle()->set_display_name("Bench half");
    req.mutable_cycle()->set_start_date(absl::FormatCivilTime(today - 30));
    req.mutable_cycle()->set_end_date(absl::FormatCivilTime(today + 150));
    req.mutable_cycle()->set_state(gv1::Cycle::ACTIVE);
    if (auto s = goals->CreateCycle(&ctx, req, &cycle); !s.ok())
      return Fail("create cycle: " + Describe(s));
  }
  int goal_count = 0;
  for (auto visibility : {gv1::Goal::PUBLIC, gv1::Goal::PRIVATE}) {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    gv1::BatchCreateGoalsRequest req;
    auto* t = req.mutable_template_();
    t->set_title(visibility == gv1::Goal::PUBLIC ? "Ship the roadmap"
                                                 : "Grow a skill");
    t->set_cycle(cycle.name());
    t->set_visibility(visibility);
    auto* kr = req.add_key_results();
    kr->set_title("Done");
    kr->set_measure(gv1::KeyResult::NUMBER);
    kr->set_direction(gv1::KeyResult::INCREASE);
    kr->set_target(10);
    req.set_team(team);
    gv1::BatchCreateGoalsResponse resp;
    if (auto s = goals->BatchCreateGoals(&ctx, req, &resp); !s.ok())
      return Fail("batch create goals: " + Describe(s));
    goal_count += resp.goals_size();
  }

  // Customer feedback about every member.
  for (size_t i = 0; i < members.size(); ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    fv1::CreateFeedbackRequest req;
    auto* f = req.mutable_feedback();
    f->set_subject(members[i]);
    f->mutable_external_author()->set_name("A customer");
    f->mutable_external_author()->set_organization("Acme");
    f->set_kind(fv1::PRAISE);
    f->set_visibility(fv1::SUBJECT_AND_MANAGERS);
    f->set_body("Quick and helpful.");
    fv1::Feedback out;
    if (auto s = feedback->CreateFeedback(&ctx, req, &out); !s.ok())
      return Fail("create feedback: " + Describe(s));
  }

  // A KPI per member and one of the team, each with a target and a point.
  const mv1::Visibility vis[] = {mv1::PUBLIC, mv1::TEAM, mv1::PRIVATE};
  mv1::BatchWriteDataPointsRequest points;
  int kpi_count = 0;
  for (size_t i = 0; i <= members.size(); ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    mv1::CreateKpiRequest req;
    auto* k = req.mutable_kpi();
    k->set_display_name(absl::StrCat("Bench KPI ", i));
    if (i == members.size()) {
      k->set_owner_team(team);
    } else {
      k->set_owner_person(members[i]);
    }
    k->set_visibility(vis[i % 3]);
    k->set_perspective(static_cast<mv1::Kpi::Perspective>(1 + i % 4));
    k->set_aggregation(mv1::Kpi::LAST);
    k->set_period(mv1::Kpi::MONTH);
    auto* t = k->add_targets();
    *t->mutable_start_time() = TimeUtil::SecondsToTimestamp(0);
    *t->mutable_end_time() = TimeUtil::SecondsToTimestamp(4102444800);
    t->set_value(100);
    t->set_amber_threshold(90);
    t->set_red_threshold(70);
    mv1::Kpi made;
    if (auto s = metrics->CreateKpi(&ctx, req, &made); !s.ok())
      return Fail("create KPI: " + Describe(s));
    ++kpi_count;
    auto* p = points.add_points();
    p->set_kpi(made.name());
    *p->mutable_time() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now() - absl::Minutes(5)));
    p->set_value(60 + static_cast<double>(i % 50));
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, service);
    mv1::WriteDataPointsResponse resp;
    if (auto s = metrics->BatchWriteDataPoints(&ctx, points, &resp); !s.ok())
      return Fail("write points: " + Describe(s));
  }
  std::printf("team=%s\nlead=%s\nmembers=%zu\ngoals=%d\nkpis=%d\n",
              team.c_str(), lead.name().c_str(), members.size(), goal_count,
              kpi_count);
  return 0;
}

int Measure() {
  const std::string token =
      Token(absl::GetFlag(FLAGS_lead), {Role::kEmployee, Role::kManager});
  if (token.empty()) return Fail("cannot mint a token (--jwt_key_file)");
  auto metrics =
      Connect<mv1::MetricsService>(absl::GetFlag(FLAGS_metrics_target));
  absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  absl::CivilMonth month(today);
  mv1::GetScorecardRequest req;
  req.set_subject(absl::GetFlag(FLAGS_team));
  *req.mutable_period_start() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(absl::FromCivil(month, absl::UTCTimeZone())));
  *req.mutable_period_end() = TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(absl::FromCivil(month + 1, absl::UTCTimeZone())));
  mv1::Scorecard card;
  auto call = [&](double* ms) -> int {
    grpc::ClientContext ctx;
    Prepare(&ctx, token);
    card.Clear();
    absl::Time start = absl::Now();
    grpc::Status s = metrics->GetScorecard(&ctx, req, &card);
    *ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!s.ok()) return Fail("GetScorecard: " + Describe(s));
    if (!card.complete() || card.goals().goal_count() == 0 ||
        card.kpis().kpi_count() == 0) {
      return Fail("GetScorecard: incomplete answer: " +
                  card.ShortDebugString().substr(0, 400));
    }
    return 0;
  };
  double cold = 0;
  if (call(&cold) != 0) return 1;
  std::vector<double> warm;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs); ++i) {
    double ms = 0;
    if (call(&ms) != 0) return 1;
    warm.push_back(ms);
  }
  std::sort(warm.begin(), warm.end());
  auto at = [&](double q) {
    return warm.empty() ? 0.0
                        : warm[std::min(warm.size() - 1,
                                        static_cast<size_t>(q * warm.size()))];
  };
  std::printf(
      "scorecard_cold_ms=%.2f\nscorecard_warm_p50_ms=%.2f\n"
      "scorecard_warm_p90_ms=%.2f\nscorecard_warm_max_ms=%.2f\n"
      "scorecard_runs=%zu\nscorecard_goals=%d\nscorecard_kpis=%d\n"
      "scorecard_feedback_total=%d\n",
      cold, at(0.5), at(0.9), warm.empty() ? 0.0 : warm.back(), warm.size(),
      card.goals().goal_count(), card.kpis().kpi_count(),
      card.feedback().total());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("sightline-bench-scorecard seed|measure ...");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) return Fail("usage: seed|measure [flags]");
  const std::string mode = args[1];
  if (mode == "seed") return Seed();
  if (mode == "measure") return Measure();
  return Fail("unknown mode " + mode);
}
