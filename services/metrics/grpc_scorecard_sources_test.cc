// GrpcScorecardSources against in-process goals and feedback services that
// record what they were sent: every page read, the caller's own credentials
// and request id on every call, answers mapped, failures UNAVAILABLE.

#include "services/metrics/grpc_scorecard_sources.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"

namespace sightline::metrics {
namespace {

namespace gv1 = goals::v1;
namespace fv1 = feedback::v1;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StatusIs;

std::string Header(const grpc::ServerContext* ctx, const std::string& key) {
  auto it = ctx->client_metadata().find(key);
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Goals in pages of two, whatever the page size asked; cycles by name.
class FakeGoals : public gv1::GoalService::Service {
 public:
  grpc::Status ListGoals(grpc::ServerContext* ctx,
                         const gv1::ListGoalsRequest* req,
                         gv1::ListGoalsResponse* resp) override {
    absl::MutexLock lock(&mu);
    auth.push_back(Header(ctx, "authorization"));
    request_ids.push_back(Header(ctx, "x-request-id"));
    filters.push_back(req->owner() + "|" + req->team());
    size_t from = 0;
    if (!req->page_token().empty()) from = std::stoul(req->page_token());
    for (size_t i = from; i < goals.size() && i < from + 2; ++i) {
      *resp->add_goals() = goals[i];
    }
    if (from + 2 < goals.size())
      resp->set_next_page_token(absl::StrCat(from + 2));
    return grpc::Status::OK;
  }
  grpc::Status GetCycle(grpc::ServerContext* ctx,
                        const gv1::GetCycleRequest* req,
                        gv1::Cycle* resp) override {
    absl::MutexLock lock(&mu);
    auth.push_back(Header(ctx, "authorization"));
    cycles_asked.push_back(req->name());
    auto it = cycles.find(req->name());
    if (it == cycles.end()) return grpc::Status(grpc::NOT_FOUND, "no cycle");
    *resp = it->second;
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::vector<gv1::Goal> goals;
  std::map<std::string, gv1::Cycle> cycles;
  std::vector<std::string> auth, request_ids, filters, cycles_asked;
};

class FakeFeedback : public fv1::FeedbackService::Service {
 public:
  grpc::Status GetFeedbackStats(grpc::ServerContext* ctx,
                                const fv1::GetFeedbackStatsRequest* req,
                                fv1::FeedbackStats* resp) override {
    absl::MutexLock lock(&mu);
    auth = Header(ctx, "authorization");
    asked = *req;
    *resp = stats;
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::string auth;
  fv1::GetFeedbackStatsRequest asked;
  fv1::FeedbackStats stats;
};

gv1::Goal GoalIn(const std::string& id, const std::string& cycle,
                 gv1::Goal::State state, double progress, gv1::Health health) {
  gv1::Goal g;
  g.set_name("goals/" + id);
  g.set_cycle("cycles/" + cycle);
  g.set_state(state);
  g.set_progress(progress);
  g.set_health(health);
  return g;
}

class GrpcScorecardSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int goals_port = 0, feedback_port = 0;
    goals_server_ = testing::ServeOnLoopback(&goals_, &goals_port);
    feedback_server_ = testing::ServeOnLoopback(&feedback_, &feedback_port);
    ASSERT_NE(goals_server_, nullptr);
    ASSERT_NE(feedback_server_, nullptr);
    sources_ = std::make_unique<GrpcScorecardSources>(
        Channel(goals_port), Channel(feedback_port), absl::Seconds(5));
    who_.authorization = "Bearer the-callers-own";
    who_.request_id = "req-42";
    who_.deadline = absl::Now() + absl::Seconds(20);
  }
  void TearDown() override {
    goals_server_->Shutdown();
    feedback_server_->Shutdown();
  }

  static std::shared_ptr<grpc::Channel> Channel(int port) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  }

  FakeGoals goals_;
  FakeFeedback feedback_;
  std::unique_ptr<grpc::Server> goals_server_, feedback_server_;
  std::unique_ptr<GrpcScorecardSources> sources_;
  OnBehalf who_;
};

TEST_F(GrpcScorecardSourcesTest, ReadsEveryPageWithTheCallersCredentials) {
  goals_.goals = {
      GoalIn("a", "h1", gv1::Goal::ACTIVE, 0.5, gv1::ON_TRACK),
      GoalIn("b", "h1", gv1::Goal::COMPLETED, 1.0, gv1::OFF_TRACK),
      GoalIn("c", "h0", gv1::Goal::COMPLETED, 0.7, gv1::HEALTH_UNSPECIFIED),
      GoalIn("d", "h1", gv1::Goal::DRAFT, 0.1, gv1::AT_RISK),
      GoalIn("e", "h1", gv1::Goal::CANCELLED, 0.0, gv1::AT_RISK)};
  goals_.goals[2].set_score(0.7);
  goals_.goals[0].set_start_date("2026-02-01");
  gv1::Cycle h1, h0;
  h1.set_name("cycles/h1");
  h1.set_display_name("H1");
  h1.set_start_date("2026-01-01");
  h1.set_end_date("2026-06-30");
  h1.set_state(gv1::Cycle::ACTIVE);
  h0 = h1;
  h0.set_name("cycles/h0");
  h0.set_display_name("H0");
  h0.set_state(gv1::Cycle::CLOSED);
  goals_.cycles = {{"cycles/h1", h1}, {"cycles/h0", h0}};

  auto in = sources_->Goals(who_, {"", "platform"});
  ASSERT_TRUE(in.ok()) << in.status();
  ASSERT_EQ(in->goals.size(), 5u);
  EXPECT_EQ(in->goals[0].id, "a");
  EXPECT_EQ(in->goals[0].stage, GoalStage::kActive);
  EXPECT_EQ(in->goals[0].health, GoalHealth::kOnTrack);
  EXPECT_EQ(in->goals[0].start_date, "2026-02-01");
  EXPECT_EQ(in->goals[1].stage, GoalStage::kCompleted);
  EXPECT_EQ(in->goals[1].health, GoalHealth::kOffTrack);
  EXPECT_EQ(in->goals[2].cycle_id, "h0");
  ASSERT_TRUE(in->goals[2].score.has_value());
  EXPECT_DOUBLE_EQ(*in->goals[2].score, 0.7);
  EXPECT_FALSE(in->goals[0].score.has_value());
  EXPECT_EQ(in->goals[3].stage, GoalStage::kOther);
  EXPECT_EQ(in->goals[4].stage, GoalStage::kOther);
  ASSERT_EQ(in->cycles.size(), 2u);
  EXPECT_EQ(in->cycles[0].id, "h0");
  EXPECT_TRUE(in->cycles[0].closed);
  EXPECT_EQ(in->cycles[1].display_name, "H1");
  EXPECT_EQ(in->cycles[1].end_date, "2026-06-30");

  // Three pages and each cycle once, all with the caller's token, never
  // with one of this service's own.
  EXPECT_THAT(goals_.filters, ElementsAre("|teams/platform", "|teams/platform",
                                          "|teams/platform"));
  EXPECT_THAT(goals_.cycles_asked, ElementsAre("cycles/h0", "cycles/h1"));
  EXPECT_EQ(goals_.auth.size(), 5u);
  EXPECT_THAT(goals_.auth, Each(std::string("Bearer the-callers-own")));
  EXPECT_THAT(goals_.request_ids, Each(std::string("req-42")));

  goals_.filters.clear();
  ASSERT_TRUE(sources_->Goals(who_, {"owen", ""}).ok());
  EXPECT_EQ(goals_.filters.front(), "people/owen|");
}

TEST_F(GrpcScorecardSourcesTest, FeedbackCountsByKindAndWithheldStaysEmpty) {
  auto* c = feedback_.stats.add_counts();
  c->set_kind(fv1::PRAISE);
  c->set_relationship(fv1::PEER);
  c->set_count(3);
  c = feedback_.stats.add_counts();
  c->set_kind(fv1::PRAISE);
  c->set_relationship(fv1::DOWNWARD);
  c->set_count(2);
  c = feedback_.stats.add_counts();
  c->set_kind(fv1::CONSTRUCTIVE);
  c->set_relationship(fv1::PEER);
  c->set_count(1);
  feedback_.stats.set_total(6);
  feedback_.stats.set_requests_asked(4);
  feedback_.stats.set_requests_answered(3);
  feedback_.stats.set_start_date("2026-12-01");
  feedback_.stats.set_end_date("2026-12-31");

  auto in = sources_->Feedback(who_, {"owen", ""}, "2026-12-03", "2026-12-20");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(feedback_.auth, "Bearer the-callers-own");
  EXPECT_EQ(feedback_.asked.person(), "people/owen");
  EXPECT_EQ(feedback_.asked.start_date(), "2026-12-03");
  EXPECT_EQ(feedback_.asked.end_date(), "2026-12-20");
  EXPECT_EQ(in->praise, 5);
  EXPECT_EQ(in->constructive, 1);
  EXPECT_EQ(in->observation, 0);
  EXPECT_EQ(in->total, 6);
  EXPECT_EQ(in->requests_asked, 4);
  EXPECT_EQ(in->requests_answered, 3);
  EXPECT_EQ(in->start_date, "2026-12-01");

  feedback_.stats.set_withheld(true);
  feedback_.stats.set_withheld_reason("fewer than 3 distinct authors");
  in = sources_->Feedback(who_, {"", "platform"}, "2026-12-01", "2026-12-31");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(feedback_.asked.team(), "teams/platform");
  EXPECT_TRUE(in->withheld);
  EXPECT_EQ(in->withheld_reason, "fewer than 3 distinct authors");
  EXPECT_EQ(in->total, 0);
  EXPECT_EQ(in->praise, 0);
  EXPECT_EQ(in->requests_asked, 0);
}

TEST_F(GrpcScorecardSourcesTest, ServicesThatDoNotAnswerAreUnavailable) {
  goals_server_->Shutdown();
  feedback_server_->Shutdown();
  who_.deadline = absl::Now() + absl::Seconds(2);
  EXPECT_THAT(sources_->Goals(who_, {"owen", ""}).status(),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(sources_->Feedback(who_, {"owen", ""}, "2026-12-01", "2026-12-31")
                  .status(),
              StatusIs(absl::StatusCode::kUnavailable));

  GrpcScorecardSources none(nullptr, nullptr);
  EXPECT_THAT(
      none.Goals(who_, {"owen", ""}).status(),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("--goals_address")));
  EXPECT_THAT(
      none.Feedback(who_, {"owen", ""}, "2026-12-01", "2026-12-31").status(),
      StatusIs(absl::StatusCode::kUnavailable,
               HasSubstr("--feedback_address")));
}

}  // namespace
}  // namespace sightline::metrics
