#include "services/metrics/grpc_scorecard_sources.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lib/status/status.h"

namespace sightline::metrics {
namespace {

namespace gv1 = goals::v1;
namespace fv1 = feedback::v1;

// Pages read at most: a subject with more goals than this is refused rather
// than summed up in part.
constexpr int kMaxPages = 100;
constexpr int kPageSize = 1000;

// Every call of one part shares `deadline`: a part is answered within the
// timeout however many calls it takes.
void Prepare(grpc::ClientContext* ctx, const OnBehalf& who,
             absl::Time deadline) {
  ctx->AddMetadata("authorization", who.authorization);
  if (!who.request_id.empty()) ctx->AddMetadata("x-request-id", who.request_id);
  ctx->set_deadline(absl::ToChronoTime(deadline));
}

std::string IdOf(absl::string_view name, absl::string_view prefix) {
  absl::ConsumePrefix(&name, prefix);
  return std::string(name);
}

GoalFact FactOf(const gv1::Goal& g) {
  GoalFact f;
  f.id = IdOf(g.name(), "goals/");
  f.cycle_id = IdOf(g.cycle(), "cycles/");
  switch (g.state()) {
    case gv1::Goal::ACTIVE:
      f.stage = GoalStage::kActive;
      break;
    case gv1::Goal::COMPLETED:
      f.stage = GoalStage::kCompleted;
      break;
    default:
      f.stage = GoalStage::kOther;
  }
  f.progress = g.progress();
  switch (g.health()) {
    case gv1::ON_TRACK:
      f.health = GoalHealth::kOnTrack;
      break;
    case gv1::AT_RISK:
      f.health = GoalHealth::kAtRisk;
      break;
    case gv1::OFF_TRACK:
      f.health = GoalHealth::kOffTrack;
      break;
    default:
      f.health = GoalHealth::kUnspecified;
  }
  if (g.has_score()) f.score = g.score();
  f.start_date = g.start_date();
  f.due_date = g.due_date();
  return f;
}

}  // namespace

GrpcScorecardSources::GrpcScorecardSources(
    std::shared_ptr<grpc::Channel> goals,
    std::shared_ptr<grpc::Channel> feedback, absl::Duration call_timeout)
    : call_timeout_(call_timeout) {
  if (goals) goals_ = gv1::GoalService::NewStub(std::move(goals));
  if (feedback) feedback_ = fv1::FeedbackService::NewStub(std::move(feedback));
}

absl::StatusOr<GoalsInput> GrpcScorecardSources::Goals(
    const OnBehalf& who, const ScorecardSubject& subject) {
  if (goals_ == nullptr) {
    return absl::UnavailableError(
        "goals: this deployment names no goals service (--goals_address)");
  }
  const absl::Time deadline =
      std::min(who.deadline, absl::Now() + call_timeout_);
  GoalsInput out;
  gv1::ListGoalsRequest req;
  req.set_page_size(kPageSize);
  if (!subject.person_id.empty()) {
    req.set_owner(absl::StrCat("people/", subject.person_id));
  } else {
    req.set_team(absl::StrCat("teams/", subject.team_id));
  }
  std::vector<std::string> cycle_ids;
  for (int page = 0;; ++page) {
    if (page == kMaxPages) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "goals: the subject's goals take more than ", kMaxPages, " pages"));
    }
    grpc::ClientContext ctx;
    Prepare(&ctx, who, deadline);
    gv1::ListGoalsResponse resp;
    grpc::Status s = goals_->ListGoals(&ctx, req, &resp);
    if (!s.ok()) return status::FromDependency("goals", s);
    for (const auto& g : resp.goals()) {
      out.goals.push_back(FactOf(g));
      cycle_ids.push_back(out.goals.back().cycle_id);
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  std::sort(cycle_ids.begin(), cycle_ids.end());
  cycle_ids.erase(std::unique(cycle_ids.begin(), cycle_ids.end()),
                  cycle_ids.end());
  // The cycles of the goals: their windows and whether they are closed.
  for (const auto& id : cycle_ids) {
    if (id.empty()) continue;
    grpc::ClientContext ctx;
    Prepare(&ctx, who, deadline);
    gv1::GetCycleRequest creq;
    creq.set_name(absl::StrCat("cycles/", id));
    gv1::Cycle c;
    grpc::Status s = goals_->GetCycle(&ctx, creq, &c);
    if (!s.ok()) return status::FromDependency("goals", s);
    CycleFact f;
    f.id = id;
    f.display_name = c.display_name();
    f.start_date = c.start_date();
    f.end_date = c.end_date();
    f.closed = c.state() == gv1::Cycle::CLOSED;
    out.cycles.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<FeedbackInput> GrpcScorecardSources::Feedback(
    const OnBehalf& who, const ScorecardSubject& subject,
    const std::string& start_date, const std::string& end_date) {
  if (feedback_ == nullptr) {
    return absl::UnavailableError(
        "feedback: this deployment names no feedback service "
        "(--feedback_address)");
  }
  fv1::GetFeedbackStatsRequest req;
  if (!subject.person_id.empty()) {
    req.set_person(absl::StrCat("people/", subject.person_id));
  } else {
    req.set_team(absl::StrCat("teams/", subject.team_id));
  }
  req.set_start_date(start_date);
  req.set_end_date(end_date);
  grpc::ClientContext ctx;
  Prepare(&ctx, who, std::min(who.deadline, absl::Now() + call_timeout_));
  fv1::FeedbackStats resp;
  grpc::Status s = feedback_->GetFeedbackStats(&ctx, req, &resp);
  if (!s.ok()) return status::FromDependency("feedback", s);
  FeedbackInput out;
  out.start_date = resp.start_date();
  out.end_date = resp.end_date();
  out.withheld = resp.withheld();
  out.withheld_reason = resp.withheld_reason();
  if (!out.withheld) {
    for (const auto& c : resp.counts()) {
      switch (c.kind()) {
        case fv1::PRAISE:
          out.praise += c.count();
          break;
        case fv1::CONSTRUCTIVE:
          out.constructive += c.count();
          break;
        case fv1::OBSERVATION:
          out.observation += c.count();
          break;
        default:
          break;
      }
    }
    out.total = resp.total();
    out.requests_asked = resp.requests_asked();
    out.requests_answered = resp.requests_answered();
  }
  return out;
}

}  // namespace sightline::metrics
