// The feedback service over gRPC against the real binaries (people, goals,
// feedback), Redis, and SQLite or PostgreSQL.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/feedback_cluster.h"

namespace sightline::testing {
namespace {

using google::protobuf::util::TimeUtil;
using S = fv1::FeedbackService::Stub;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<fv1::Feedback>& list) {
  std::vector<std::string> out;
  for (const auto& f : list) out.push_back(f.name());
  return out;
}

bool Has(const std::vector<fv1::Feedback>& list, const std::string& name) {
  auto names = Names(list);
  return std::find(names.begin(), names.end(), name) != names.end();
}

class FeedbackFixture {
 protected:
  void Start(Db db, std::vector<std::string> args = {}) {
    auto c = FeedbackCluster::Start(db, std::move(args));
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = std::move(*c);
  }
  fv1::ListFeedbackRequest About(const std::string& ext) {
    fv1::ListFeedbackRequest r;
    r.set_subject(c_->Person(ext));
    return r;
  }
  std::unique_ptr<FeedbackCluster> c_;
};

class FeedbackCoreIT : public FeedbackFixture,
                       public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start(GetParam())); }
};

class FeedbackIT : public FeedbackFixture, public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start(Db::kSqlite)); }
};

TEST_P(FeedbackCoreIT, VisibilityMatrixAndDerivedRelationships) {
  fv1::Feedback only, managers, pub;
  ASSERT_TRUE(c_->Give("ic-eng-2", "ic-eng-1", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_ONLY, false, &only)
                  .ok());
  ASSERT_TRUE(c_->Give("ic-eng-2", "ic-eng-1", fv1::OBSERVATION,
                       fv1::SUBJECT_AND_MANAGERS, false, &managers)
                  .ok());
  ASSERT_TRUE(
      c_->Give("ic-eng-2", "ic-eng-1", fv1::PRAISE, fv1::PUBLIC, false, &pub)
          .ok());
  EXPECT_EQ(only.relationship(), fv1::PEER);
  EXPECT_EQ(only.author(), c_->Person("ic-eng-2"));

  struct Row {
    std::string who;
    bool only, managers, pub;
  };
  // ceo and mgr-eng manage the subject; hr is hr_admin; ic-sales-1 is
  // elsewhere.
  for (const Row& r : std::vector<Row>{{"ic-eng-1", true, true, true},
                                       {"ic-eng-2", true, true, true},
                                       {"mgr-eng", false, true, true},
                                       {"ceo", false, true, true},
                                       {"hr", false, false, true},
                                       {"ic-sales-1", false, false, true}}) {
    for (auto [f, want] :
         {std::pair{&only, r.only}, std::pair{&managers, r.managers},
          std::pair{&pub, r.pub}}) {
      fv1::Feedback got;
      auto st = c_->Get(r.who, f->name(), &got);
      if (want) {
        EXPECT_TRUE(st.ok())
            << r.who << " " << f->visibility() << " " << st.error_message();
      } else {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND)
            << r.who << " " << f->visibility();
      }
    }
    // Lists filter the same way.
    std::vector<fv1::Feedback> listed;
    ASSERT_TRUE(c_->ListAll(r.who, About("ic-eng-1"), &listed).ok());
    EXPECT_EQ(Has(listed, only.name()), r.only) << r.who;
    EXPECT_EQ(Has(listed, managers.name()), r.managers) << r.who;
    EXPECT_EQ(Has(listed, pub.name()), r.pub) << r.who;
  }

  // The relationship comes from the org, whatever the client says.
  fv1::Feedback down, up, self;
  ASSERT_TRUE(c_->Give("mgr-eng", "ic-eng-1", fv1::PRAISE,
                       fv1::SUBJECT_AND_MANAGERS, false, &down)
                  .ok());
  ASSERT_TRUE(c_->Give("ic-eng-1", "mgr-eng", fv1::PRAISE, fv1::SUBJECT_ONLY,
                       false, &up)
                  .ok());
  ASSERT_TRUE(c_->Give("ic-eng-1", "ic-eng-1", fv1::OBSERVATION,
                       fv1::SUBJECT_ONLY, false, &self)
                  .ok());
  EXPECT_EQ(down.relationship(), fv1::DOWNWARD);
  EXPECT_EQ(up.relationship(), fv1::UPWARD);
  EXPECT_EQ(self.relationship(), fv1::SELF);
  fv1::CreateFeedbackRequest req;
  req.mutable_feedback()->set_subject(c_->Person("ic-eng-1"));
  req.mutable_feedback()->set_kind(fv1::PRAISE);
  req.mutable_feedback()->set_visibility(fv1::SUBJECT_ONLY);
  req.mutable_feedback()->set_body("claims to be the manager");
  req.mutable_feedback()->set_relationship(fv1::DOWNWARD);
  fv1::Feedback peer;
  ASSERT_TRUE(
      c_->Call(&S::CreateFeedback, c_->Token("ic-sales-1"), req, &peer).ok());
  EXPECT_EQ(peer.relationship(), fv1::PEER);

  // The subject acknowledges; nobody else does.
  fv1::AcknowledgeFeedbackRequest ack;
  ack.set_name(managers.name());
  ack.set_reaction(fv1::THANKS);
  fv1::Feedback acked;
  EXPECT_EQ(c_->Call(&S::AcknowledgeFeedback, c_->Token("mgr-eng"), ack, &acked)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      c_->Call(&S::AcknowledgeFeedback, c_->Token("ic-eng-1"), ack, &acked)
          .ok());
  EXPECT_EQ(acked.acknowledgement().reaction(), fv1::THANKS);
  EXPECT_TRUE(acked.acknowledgement().has_time());
}

TEST_F(FeedbackIT, BadInputAndDeniedCallers) {
  fv1::Feedback out;
  auto call = [&](const std::string& token, fv1::CreateFeedbackRequest req) {
    return c_->Call(&S::CreateFeedback, token, req, &out);
  };
  fv1::CreateFeedbackRequest base;
  base.mutable_feedback()->set_subject(c_->Person("ic-eng-1"));
  base.mutable_feedback()->set_kind(fv1::PRAISE);
  base.mutable_feedback()->set_visibility(fv1::SUBJECT_ONLY);
  base.mutable_feedback()->set_body("Great demo");
  std::string token = c_->Token("ic-eng-2");

  auto expect_field = [&](fv1::CreateFeedbackRequest req,
                          const std::string& field) {
    auto st = call(token, req);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(ViolatedFields(st), ::testing::Contains(field))
        << st.error_message();
  };
  auto r = base;
  r.mutable_feedback()->clear_subject();
  expect_field(r, "feedback.subject");
  r = base;
  r.mutable_feedback()->set_subject("people/nobody-here");
  expect_field(r, "feedback.subject");
  r = base;
  r.mutable_feedback()->set_body(std::string(4001, 'x'));
  expect_field(r, "feedback.body");
  r = base;
  r.mutable_feedback()->set_kind(static_cast<fv1::Kind>(42));
  expect_field(r, "feedback.kind");
  r = base;
  r.mutable_feedback()->set_kind(fv1::CONSTRUCTIVE);
  r.mutable_feedback()->set_visibility(fv1::PUBLIC);
  expect_field(r, "feedback.visibility");
  r = base;
  r.mutable_feedback()->set_goal("goals/doesnotexist");
  expect_field(r, "feedback.goal");
  r = base;
  r.mutable_feedback()->mutable_external_author()->set_name("Dana");
  expect_field(r, "feedback.external_author");
  r = base;
  r.set_request_id(std::string(200, 'x'));
  expect_field(r, "request_id");

  // Nobody gives feedback as someone else.
  r = base;
  r.mutable_feedback()->set_author(c_->Person("mgr-eng"));
  EXPECT_EQ(call(token, r).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // No token, a forged one.
  EXPECT_EQ(call("", base).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      call(c_->goals().tokens().SignedWithOtherSecret("ic-eng-2@example.com"),
           base)
          .error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  // A service only submits CUSTOMER feedback, with an external author.
  EXPECT_EQ(call(c_->ServiceToken(), base).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  r = base;
  r.mutable_feedback()->mutable_external_author()->set_name("Dana Diaz");
  r.mutable_feedback()->mutable_external_author()->set_organization("Acme");
  ASSERT_TRUE(call(c_->ServiceToken(), r).ok());
  EXPECT_EQ(out.relationship(), fv1::CUSTOMER);
  EXPECT_EQ(out.author(), "");
  EXPECT_EQ(out.external_author().organization(), "Acme");

  // A goal that exists, checked with the goals service.
  auto cycle = c_->goals().CreateCycle("FY");
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  gv1::Goal goal;
  auto made =
      c_->goals().CreateGoal("ic-eng-1",
                             GoalMsg("Ship search", c_->Person("ic-eng-1"),
                                     gv1::INDIVIDUAL, cycle->name()),
                             {NumberKr("users", 0, 50)}, &goal);
  ASSERT_TRUE(made.ok()) << made.error_message();
  r = base;
  r.mutable_feedback()->set_goal(goal.name());
  ASSERT_TRUE(call(token, r).ok());
  EXPECT_EQ(out.goal(), goal.name());
  r.mutable_feedback()->set_key_result(goal.name() + "/keyResults/nokr");
  expect_field(r, "feedback.key_result");

  // Another person's PRIVATE goal is referenced as a goal that does not
  // exist, byte for byte; its owner and the owner's manager reference it.
  gv1::Goal secret;
  made = c_->goals().CreateGoal(
      "ic-eng-1",
      GoalMsg("Quiet project", c_->Person("ic-eng-1"), gv1::INDIVIDUAL,
              cycle->name(), "", gv1::Goal::PRIVATE),
      {NumberKr("users", 0, 50)}, &secret);
  ASSERT_TRUE(made.ok()) << made.error_message();
  gv1::Goal seen;
  ASSERT_EQ(c_->goals().GetGoal("ic-eng-2", secret.name(), &seen).error_code(),
            grpc::StatusCode::NOT_FOUND);
  r = base;
  r.mutable_feedback()->set_goal("goals/doesnotexist");
  grpc::Status missing = call(token, r);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r.mutable_feedback()->set_goal(secret.name());
  grpc::Status hidden = call(token, r);
  EXPECT_EQ(hidden.error_code(), missing.error_code());
  EXPECT_EQ(hidden.error_message(), missing.error_message());
  EXPECT_EQ(hidden.error_details(), missing.error_details());
  auto secret_krs = c_->goals().KeyResults("ic-eng-1", secret.name());
  ASSERT_TRUE(secret_krs.ok()) << secret_krs.status();
  ASSERT_EQ(secret_krs->size(), 1u);
  r.mutable_feedback()->set_key_result((*secret_krs)[0].name());
  hidden = call(token, r);
  EXPECT_EQ(hidden.error_code(), missing.error_code());
  EXPECT_EQ(hidden.error_message(), missing.error_message());
  EXPECT_EQ(hidden.error_details(), missing.error_details());
  r.mutable_feedback()->clear_key_result();
  for (const char* who : {"ic-eng-1", "mgr-eng"}) {
    grpc::Status st = call(c_->Token(who), r);
    EXPECT_TRUE(st.ok()) << who << ": " << st.error_message();
  }

  // Reads: bad names, and List without exactly one scope.
  fv1::Feedback got;
  EXPECT_EQ(c_->Get("ic-eng-1", "feedback/", &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(c_->Get("ic-eng-1", "feedback/nosuchthing", &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  fv1::ListFeedbackRequest list;
  fv1::ListFeedbackResponse listed;
  EXPECT_EQ(c_->Call(&S::ListFeedback, token, list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  list = About("ic-eng-1");
  list.set_start_date("2026-11-24T10:00:00Z");
  EXPECT_EQ(c_->Call(&S::ListFeedback, token, list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  list = About("ic-eng-1");
  list.set_page_size(-1);
  EXPECT_EQ(c_->Call(&S::ListFeedback, token, list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  list = About("ic-eng-1");
  list.set_page_token("forged");
  EXPECT_EQ(c_->Call(&S::ListFeedback, token, list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

fv1::FeedbackRequest RequestMsg(FeedbackCluster& c, const std::string& subject,
                                const std::vector<std::string>& responders,
                                absl::Duration due, bool anonymous) {
  fv1::FeedbackRequest r;
  r.set_subject(c.Person(subject));
  for (const auto& p : responders) r.add_responders()->set_person(c.Person(p));
  r.set_prompt("How did the migration go?");
  r.add_questions("What should continue?");
  *r.mutable_due_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() + due));
  r.set_allow_anonymous(anonymous);
  return r;
}

TEST_F(FeedbackIT, AnonymityHolds) {
  // ic-plat writes only anonymously in this test; nothing may name them.
  const std::string author = "ic-plat";
  std::vector<std::string> created;
  for (int i = 0; i < 8; ++i) {
    fv1::Feedback f;
    auto st = c_->Give(author, "ic-eng-1", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_AND_MANAGERS, true, &f,
                       absl::StrCat("note ", i), {}, "", absl::StrCat("r", i));
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(f.author(), "");
    EXPECT_TRUE(f.anonymous());
    EXPECT_EQ(f.relationship(), fv1::PEER);
    created.push_back(f.name());
  }
  // A retry returns the first answer, and no second feedback.
  fv1::Feedback again;
  ASSERT_TRUE(c_->Give(author, "ic-eng-1", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_AND_MANAGERS, true, &again, "note 0", {},
                       "", "r0")
                  .ok());
  EXPECT_EQ(again.name(), created[0]);
  fv1::Feedback clash;
  EXPECT_EQ(c_->Give(author, "ic-eng-1", fv1::PRAISE, fv1::SUBJECT_ONLY, true,
                     &clash, "other", {}, "", "r0")
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The subject, the managers and hr_admin: no author, the date only, and an
  // order that is not the order of submission.
  for (const char* who : {"ic-eng-1", "mgr-eng", "ceo"}) {
    std::vector<fv1::Feedback> listed;
    ASSERT_TRUE(c_->ListAll(who, About("ic-eng-1"), &listed).ok());
    ASSERT_EQ(listed.size(), created.size()) << who;
    for (const auto& f : listed) {
      EXPECT_EQ(f.author(), "") << who;
      EXPECT_EQ(f.create_time().seconds() % 86400, 0) << who;
      EXPECT_EQ(f.create_time().nanos(), 0) << who;
    }
    EXPECT_NE(Names(listed), created) << who;
  }
  std::vector<fv1::Feedback> hr_sees;
  ASSERT_TRUE(c_->ListAll("hr", About("ic-eng-1"), &hr_sees).ok());
  EXPECT_TRUE(hr_sees.empty());
  fv1::Feedback got;
  EXPECT_EQ(c_->Get("hr", created[0], &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Listing by author: others never see anonymous feedback that way.
  fv1::ListFeedbackRequest by;
  by.set_author(c_->Person(author));
  for (const char* who : {"ic-eng-1", "mgr-eng", "hr", "ceo"}) {
    std::vector<fv1::Feedback> listed;
    ASSERT_TRUE(c_->ListAll(who, by, &listed).ok());
    EXPECT_TRUE(listed.empty()) << who;
  }
  // Narrowing the subject's list by day cannot date it finer than its day.
  fv1::ListFeedbackRequest narrow = About("ic-eng-1");
  narrow.set_start_date("2026-01-01T00:00:00");
  fv1::ListFeedbackResponse resp;
  EXPECT_EQ(c_->Call(&S::ListFeedback, c_->Token("ic-eng-1"), narrow, &resp)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Anonymous only PEER and UPWARD, and UPWARD only where enough people
  // report to the subject (mgr-sales has two).
  fv1::Feedback f;
  EXPECT_EQ(c_->Give("mgr-eng", "ic-eng-1", fv1::CONSTRUCTIVE,
                     fv1::SUBJECT_ONLY, true, &f)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto st = c_->Give("ic-sales-1", "mgr-sales", fv1::CONSTRUCTIVE,
                     fv1::SUBJECT_ONLY, true, &f);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(st), ::testing::Contains("feedback.anonymous"));
  EXPECT_TRUE(c_->Give("ic-eng-3", "mgr-eng", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_ONLY, true, &f)
                  .ok());
  EXPECT_EQ(f.relationship(), fv1::UPWARD);

  // Stats read before and after one more anonymous answer: the difference
  // is that answer's counts and its wait in whole days, never its time.
  fv1::CreateFeedbackRequestRequest ask;
  *ask.mutable_feedback_request() = RequestMsg(
      *c_, "ic-eng-1", {"ic-eng-2", "ic-eng-3", "ic-eng-4", "ic-plat"},
      absl::Hours(24), true);
  fv1::FeedbackRequest asked;
  ASSERT_TRUE(
      c_->Call(&S::CreateFeedbackRequest, c_->Token("ic-eng-1"), ask, &asked)
          .ok());
  for (const char* who : {"ic-eng-2", "ic-eng-3"}) {
    ASSERT_TRUE(c_->Give(who, "ic-eng-1", fv1::OBSERVATION, fv1::SUBJECT_ONLY,
                         true, &f, "Clear plan", {}, asked.name())
                    .ok())
        << who;
  }
  fv1::GetFeedbackStatsRequest stats_req;
  stats_req.set_person(c_->Person("ic-eng-1"));
  stats_req.set_start_date("2020-01-01");
  stats_req.set_end_date("2099-12-31");
  std::map<std::string, fv1::FeedbackStats> before;
  for (const char* who : {"ic-eng-1", "mgr-eng", "hr"}) {
    ASSERT_TRUE(
        c_->Call(&S::GetFeedbackStats, c_->Token(who), stats_req, &before[who])
            .ok())
        << who;
    EXPECT_FALSE(before[who].withheld()) << before[who].withheld_reason();
  }
  ASSERT_TRUE(c_->Give("ic-eng-4", "ic-eng-1", fv1::OBSERVATION,
                       fv1::SUBJECT_ONLY, true, &f, "Clear plan", {},
                       asked.name())
                  .ok());
  for (const char* who : {"ic-eng-1", "mgr-eng", "hr"}) {
    fv1::FeedbackStats after;
    ASSERT_TRUE(
        c_->Call(&S::GetFeedbackStats, c_->Token(who), stats_req, &after).ok())
        << who;
    const fv1::FeedbackStats& was = before[who];
    EXPECT_EQ(after.total(), was.total() + 1) << who;
    EXPECT_EQ(after.requests_asked(), was.requests_asked()) << who;
    EXPECT_EQ(after.requests_answered(), was.requests_answered() + 1) << who;
    // Asked and answered today: a wait of 0 whole days, and no seconds.
    EXPECT_EQ(was.median_response_days(), 0) << who;
    EXPECT_EQ(after.median_response_days(), 0) << who;
    EXPECT_EQ(was.median_response_seconds(), 0) << who;
    EXPECT_EQ(after.median_response_seconds(), 0) << who;
  }

  // Nothing in the log or the metrics names the anonymous author: every
  // CreateFeedback line says "redacted" (the service flushes its log every
  // 50 ms, hence the bounded wait for as many lines as calls counted).
  auto metrics = c_->service().ScrapeMetrics();
  ASSERT_TRUE(metrics.ok());
  const double creates =
      SeriesValue(*metrics, "grpc_server_started_total",
                  {{"grpc_method", "CreateFeedback"},
                   {"grpc_service", "sightline.feedback.v1.FeedbackService"},
                   {"grpc_type", "unary"}});
  ASSERT_GE(creates, 8);
  const std::string create_line =
      "\"method\":\"/sightline.feedback.v1.FeedbackService/CreateFeedback\"";
  std::string log;
  for (int i = 0; i < 250; ++i) {
    log = c_->service().Log();
    if (Count(log, create_line) >= creates) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Count(log, create_line), creates);
  for (size_t at = log.find(create_line); at != std::string::npos;
       at = log.find(create_line, at + 1)) {
    EXPECT_THAT(log.substr(at, log.find('\n', at) - at),
                HasSubstr("\"principal\":\"redacted\""));
  }
  std::string id = c_->Person(author).substr(std::string("people/").size());
  EXPECT_FALSE(absl::StrContains(log, id));
  EXPECT_FALSE(absl::StrContains(log, author + "@"));
  EXPECT_FALSE(absl::StrContains(*metrics, id));
  EXPECT_GE(SeriesValue(*metrics, "sightline_feedback_created_total",
                        {{"kind", "CONSTRUCTIVE"}, {"relationship", "PEER"}}),
            8);
}

TEST_F(FeedbackIT, RequestLifecycleIncludingExpiry) {
  fv1::CreateFeedbackRequestRequest create;
  *create.mutable_feedback_request() =
      RequestMsg(*c_, "ic-eng-1", {"ic-eng-2", "ic-eng-3", "ic-plat"},
                 absl::Hours(24), true);
  fv1::FeedbackRequest req;
  ASSERT_TRUE(
      c_->Call(&S::CreateFeedbackRequest, c_->Token("mgr-eng"), create, &req)
          .ok());
  EXPECT_EQ(req.state(), fv1::FeedbackRequest::OPEN);
  EXPECT_EQ(req.asked_count(), 3);

  // Only about oneself or one's reports; anonymous answers need the floor.
  fv1::FeedbackRequest denied;
  auto other = create;
  other.mutable_feedback_request()->set_subject(c_->Person("ic-sales-1"));
  EXPECT_EQ(
      c_->Call(&S::CreateFeedbackRequest, c_->Token("mgr-eng"), other, &denied)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  auto small = create;
  small.mutable_feedback_request()->mutable_responders()->RemoveLast();
  EXPECT_EQ(
      c_->Call(&S::CreateFeedbackRequest, c_->Token("mgr-eng"), small, &denied)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  auto inbox = [&](const std::string& who) {
    fv1::ListFeedbackRequestsRequest l;
    l.set_box(fv1::ListFeedbackRequestsRequest::INBOX);
    fv1::ListFeedbackRequestsResponse resp;
    EXPECT_TRUE(
        c_->Call(&S::ListFeedbackRequests, c_->Token(who), l, &resp).ok());
    return resp.feedback_requests_size();
  };
  EXPECT_EQ(inbox("ic-eng-2"), 1);
  EXPECT_EQ(inbox("ic-sales-1"), 0);

  // One answers anonymously, one declines; someone not asked cannot decline.
  fv1::Feedback answer;
  ASSERT_TRUE(c_->Give("ic-eng-2", "ic-eng-1", fv1::PRAISE,
                       fv1::SUBJECT_AND_MANAGERS, true, &answer, "Solid", {},
                       req.name())
                  .ok());
  EXPECT_EQ(answer.request(), req.name());
  EXPECT_EQ(inbox("ic-eng-2"), 0);
  fv1::Feedback twice;
  EXPECT_EQ(
      c_->Give("ic-eng-2", "ic-eng-1", fv1::PRAISE, fv1::SUBJECT_AND_MANAGERS,
               true, &twice, "Again", {}, req.name())
          .error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  // Someone not asked (even naming the wrong subject) gets exactly the answer
  // to a request that does not exist.
  auto not_asked = [&](const std::string& request, const std::string& subject) {
    fv1::Feedback out;
    return c_->Give("ic-sales-1", subject, fv1::PRAISE, fv1::SUBJECT_ONLY,
                    false, &out, "Hello", {}, request);
  };
  grpc::Status missing = not_asked("feedbackRequests/doesnotexist", "ic-eng-1");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(missing), ::testing::Contains("feedback.request"));
  for (const char* subject : {"ic-eng-1", "ic-eng-2"}) {
    grpc::Status st = not_asked(req.name(), subject);
    EXPECT_EQ(st.error_code(), missing.error_code()) << subject;
    EXPECT_EQ(st.error_message(), missing.error_message()) << subject;
    EXPECT_EQ(st.error_details(), missing.error_details()) << subject;
  }
  fv1::DeclineFeedbackRequestRequest decline;
  decline.set_name(req.name());
  decline.set_reason("Not on that project");
  fv1::FeedbackRequest after;
  EXPECT_EQ(c_->Call(&S::DeclineFeedbackRequest, c_->Token("ic-sales-1"),
                     decline, &after)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(c_->Call(&S::DeclineFeedbackRequest, c_->Token("ic-plat"),
                       decline, &after)
                  .ok());
  ASSERT_EQ(after.responders_size(), 1);  // a responder sees their own part
  EXPECT_EQ(after.responders(0).state(), fv1::FeedbackRequest::DECLINED);

  // The requester sees counts, not who answered (answers may be anonymous).
  fv1::ListFeedbackRequestsRequest sent;
  sent.set_box(fv1::ListFeedbackRequestsRequest::SENT);
  fv1::ListFeedbackRequestsResponse mine;
  ASSERT_TRUE(
      c_->Call(&S::ListFeedbackRequests, c_->Token("mgr-eng"), sent, &mine)
          .ok());
  ASSERT_EQ(mine.feedback_requests_size(), 1);
  const auto& seen = mine.feedback_requests(0);
  EXPECT_EQ(seen.completed_count(), 1);
  EXPECT_EQ(seen.declined_count(), 1);
  EXPECT_EQ(seen.responders_size(), 3);
  for (const auto& p : seen.responders())
    EXPECT_EQ(p.state(), fv1::FeedbackRequest::STATE_UNSPECIFIED);

  // Expiry: a request due in two seconds, left unanswered.
  fv1::CreateFeedbackRequestRequest quick;
  *quick.mutable_feedback_request() =
      RequestMsg(*c_, "ic-sales-1", {"ic-sales-2"}, absl::Seconds(2), false);
  fv1::FeedbackRequest soon;
  ASSERT_TRUE(
      c_->Call(&S::CreateFeedbackRequest, c_->Token("ic-sales-1"), quick, &soon)
          .ok());
  EXPECT_EQ(inbox("ic-sales-2"), 1);
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(inbox("ic-sales-2"), 0);
  fv1::Feedback late;
  EXPECT_EQ(c_->Give("ic-sales-2", "ic-sales-1", fv1::PRAISE, fv1::SUBJECT_ONLY,
                     false, &late, "Late", {}, soon.name())
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(
      c_->Call(&S::ListFeedbackRequests, c_->Token("ic-sales-1"), sent, &mine)
          .ok());
  ASSERT_EQ(mine.feedback_requests_size(), 1);
  EXPECT_EQ(mine.feedback_requests(0).state(), fv1::FeedbackRequest::EXPIRED);
  EXPECT_EQ(mine.feedback_requests(0).responders(0).state(),
            fv1::FeedbackRequest::EXPIRED);
}

TEST_F(FeedbackIT, Review360SummaryBelowAndAboveTheFloor) {
  fv1::CreateReview360Request create;
  create.mutable_review()->set_subject(c_->Person("ic-eng-1"));
  create.mutable_review()->set_start_date("2026-01-01");
  create.mutable_review()->set_end_date("2099-12-31");
  create.set_prompt("What should ic-eng-1 keep and change?");
  fv1::Review360 review;
  EXPECT_EQ(
      c_->Call(&S::CreateReview360, c_->Token("ic-eng-2"), create, &review)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      c_->Call(&S::CreateReview360, c_->Token("mgr-eng"), create, &review)
          .ok());
  std::string request = review.feedback_request();

  auto summary = [&](const std::string& who, fv1::Relationship rel,
                     const std::string& tag, fv1::Review360Summary* out) {
    fv1::GetReview360SummaryRequest r;
    r.set_name(review.name());
    r.set_relationship(rel);
    r.set_tag(tag);
    return c_->Call(&S::GetReview360Summary, c_->Token(who), r, out);
  };
  auto group = [](const fv1::Review360Summary& s, fv1::Relationship rel) {
    for (const auto& g : s.groups())
      if (g.relationship() == rel) return g;
    return fv1::SummaryGroup();
  };
  auto answer = [&](const std::string& who, bool anonymous,
                    std::vector<std::string> tags) {
    fv1::Feedback f;
    auto st =
        c_->Give(who, "ic-eng-1", fv1::CONSTRUCTIVE, fv1::SUBJECT_AND_MANAGERS,
                 anonymous, &f, "From " + who, tags, request);
    ASSERT_TRUE(st.ok()) << who << ": " << st.error_message();
  };
  ASSERT_NO_FATAL_FAILURE(answer("mgr-eng", false, {"ownership"}));
  ASSERT_NO_FATAL_FAILURE(answer("ic-eng-2", true, {"ownership"}));
  ASSERT_NO_FATAL_FAILURE(answer("ic-eng-3", true, {"ownership"}));

  fv1::Review360Summary s;
  ASSERT_TRUE(summary("ic-eng-1", fv1::RELATIONSHIP_UNSPECIFIED, "", &s).ok());
  EXPECT_EQ(s.anonymity_floor(), 3);
  auto peers = group(s, fv1::PEER);
  EXPECT_TRUE(peers.withheld());
  EXPECT_THAT(peers.withheld_reason(), HasSubstr("fewer than 3"));
  EXPECT_EQ(peers.responses_size(), 0);
  auto down = group(s, fv1::DOWNWARD);
  EXPECT_FALSE(down.withheld());
  EXPECT_EQ(down.responses_size(), 1);

  ASSERT_NO_FATAL_FAILURE(answer("ic-eng-4", true, {"ownership"}));
  ASSERT_NO_FATAL_FAILURE(answer("ic-plat", true, {"craft"}));
  ASSERT_TRUE(summary("mgr-eng", fv1::PEER, "", &s).ok());
  ASSERT_EQ(s.groups_size(), 1);
  EXPECT_FALSE(s.groups(0).withheld());
  EXPECT_EQ(s.groups(0).responses_size(), 4);
  // Narrowed by tag to three of four: the one left out would show by
  // difference, so the group is withheld; narrowed to one, withheld too.
  ASSERT_TRUE(summary("mgr-eng", fv1::PEER, "ownership", &s).ok());
  EXPECT_TRUE(group(s, fv1::PEER).withheld());
  ASSERT_TRUE(summary("mgr-eng", fv1::PEER, "craft", &s).ok());
  EXPECT_TRUE(group(s, fv1::PEER).withheld());
  // hr_admin reads the summary, which names nobody; outsiders do not.
  ASSERT_TRUE(summary("hr", fv1::RELATIONSHIP_UNSPECIFIED, "", &s).ok());
  for (const auto& g : s.groups()) {
    for (const auto& r : g.responses()) {
      EXPECT_FALSE(absl::StrContains(r.DebugString(), "people/"));
    }
  }
  EXPECT_EQ(
      summary("ic-sales-1", fv1::RELATIONSHIP_UNSPECIFIED, "", &s).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_P(FeedbackCoreIT, RecognitionFeedAndWatchResume) {
  grpc::ClientContext ctx;
  Authorize(&ctx, c_->Token("ic-sales-2"), absl::Seconds(60));
  fv1::WatchRecognitionRequest watch;
  auto reader = c_->stub()->WatchRecognition(&ctx, watch);
  // Let the stream position itself before the first commit.
  absl::SleepFor(absl::Milliseconds(500));

  fv1::Feedback eng, sales;
  ASSERT_TRUE(
      c_->Give("ic-eng-2", "ic-eng-1", fv1::PRAISE, fv1::PUBLIC, false, &eng)
          .ok());
  ASSERT_TRUE(c_->Give("ic-sales-1", "ic-sales-2", fv1::PRAISE, fv1::PUBLIC,
                       false, &sales)
                  .ok());
  fv1::ReactToRecognitionRequest react;
  react.set_name(eng.name());
  react.set_reaction(fv1::CELEBRATE);
  fv1::Feedback reacted;
  ASSERT_TRUE(
      c_->Call(&S::ReactToRecognition, c_->Token("ceo"), react, &reacted).ok());
  // One reaction per person: reacting again replaces it.
  react.set_reaction(fv1::HEART);
  ASSERT_TRUE(
      c_->Call(&S::ReactToRecognition, c_->Token("ceo"), react, &reacted).ok());
  ASSERT_EQ(reacted.reactions_size(), 1);
  EXPECT_EQ(reacted.reactions(0).reaction(), fv1::HEART);
  EXPECT_EQ(reacted.my_reaction(), fv1::HEART);

  std::vector<fv1::WatchRecognitionResponse> events;
  fv1::WatchRecognitionResponse e;
  while (events.size() < 4 && reader->Read(&e)) events.push_back(e);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].change_type(), fv1::WatchRecognitionResponse::CREATED);
  EXPECT_EQ(events[0].recognition().name(), eng.name());
  EXPECT_EQ(events[1].recognition().name(), sales.name());
  EXPECT_EQ(events[2].change_type(), fv1::WatchRecognitionResponse::REACTED);
  ctx.TryCancel();
  reader->Finish();

  // Resuming after the first event delivers the rest, and nothing before.
  grpc::ClientContext ctx2;
  Authorize(&ctx2, c_->Token("ic-sales-2"), absl::Seconds(60));
  watch.set_resume_token(events[0].resume_token());
  auto resumed = c_->stub()->WatchRecognition(&ctx2, watch);
  ASSERT_TRUE(resumed->Read(&e));
  EXPECT_EQ(e.recognition().name(), sales.name());
  ASSERT_TRUE(resumed->Read(&e));
  EXPECT_EQ(e.change_type(), fv1::WatchRecognitionResponse::REACTED);
  ctx2.TryCancel();
  resumed->Finish();
  // A forged resume token is refused.
  grpc::ClientContext ctx3;
  Authorize(&ctx3, c_->Token("ic-sales-2"), absl::Seconds(20));
  watch.set_resume_token("forged");
  auto bad = c_->stub()->WatchRecognition(&ctx3, watch);
  EXPECT_FALSE(bad->Read(&e));
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The feeds: the company's, and a team's.
  auto feed = [&](const std::string& team) {
    fv1::ListRecognitionRequest l;
    l.set_team(team);
    fv1::ListRecognitionResponse resp;
    EXPECT_TRUE(
        c_->Call(&S::ListRecognition, c_->Token("ic-plat"), l, &resp).ok());
    std::vector<std::string> names;
    for (const auto& f : resp.recognition()) names.push_back(f.name());
    return names;
  };
  EXPECT_THAT(feed(""), ElementsAre(sales.name(), eng.name()));
  EXPECT_THAT(feed(c_->Team("eng")), ElementsAre(eng.name()));
  EXPECT_THAT(feed(c_->Team("sales")), ElementsAre(sales.name()));
  // Reactions only on recognition.
  fv1::Feedback private_note;
  ASSERT_TRUE(c_->Give("ic-eng-2", "ic-eng-1", fv1::PRAISE, fv1::SUBJECT_ONLY,
                       false, &private_note)
                  .ok());
  react.set_name(private_note.name());
  EXPECT_EQ(
      c_->Call(&S::ReactToRecognition, c_->Token("ic-eng-1"), react, &reacted)
          .error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(c_->Call(&S::ReactToRecognition, c_->Token("ceo"), react, &reacted)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(FeedbackCoreIT, OneOnOnePrivateNotesAndCarriedActionItems) {
  auto at = [](absl::Duration from_now) {
    return TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now() + from_now));
  };
  fv1::CreateOneOnOneRequest create;
  auto* m = create.mutable_one_on_one();
  m->set_manager(c_->Person("mgr-eng"));
  m->set_report(c_->Person("ic-eng-1"));
  *m->mutable_scheduled_time() = at(absl::Hours(1));
  m->add_agenda_items()->set_text("Career growth");
  m->set_my_private_note("Ask about the on-call load");
  auto* item = m->add_action_items();
  item->set_text("Write the design doc");
  item->set_owner(c_->Person("ic-eng-1"));
  item->set_due_date("2026-12-01");
  fv1::OneOnOne first;
  ASSERT_TRUE(
      c_->Call(&S::CreateOneOnOne, c_->Token("mgr-eng"), create, &first).ok());
  EXPECT_EQ(first.my_private_note(), "Ask about the on-call load");
  ASSERT_EQ(first.action_items_size(), 1);

  // Someone outside the pair cannot create one for them, nor see it.
  fv1::OneOnOne denied;
  EXPECT_EQ(c_->Call(&S::CreateOneOnOne, c_->Token("ic-eng-2"), create, &denied)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto not_manager = create;
  not_manager.mutable_one_on_one()->set_manager(c_->Person("mgr-sales"));
  EXPECT_EQ(
      c_->Call(&S::CreateOneOnOne, c_->Token("mgr-sales"), not_manager, &denied)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  // The report writes their own note; neither sees the other's.
  fv1::ListOneOnOnesRequest list;
  fv1::ListOneOnOnesResponse listed;
  ASSERT_TRUE(
      c_->Call(&S::ListOneOnOnes, c_->Token("ic-eng-1"), list, &listed).ok());
  ASSERT_EQ(listed.one_on_ones_size(), 1);
  EXPECT_EQ(listed.one_on_ones(0).my_private_note(), "");
  fv1::UpdateOneOnOneRequest update;
  update.mutable_one_on_one()->set_name(first.name());
  update.mutable_one_on_one()->set_etag(listed.one_on_ones(0).etag());
  update.mutable_one_on_one()->set_my_private_note("Ask for the promo case");
  update.mutable_update_mask()->add_paths("my_private_note");
  fv1::OneOnOne updated;
  ASSERT_TRUE(
      c_->Call(&S::UpdateOneOnOne, c_->Token("ic-eng-1"), update, &updated)
          .ok());
  EXPECT_EQ(updated.my_private_note(), "Ask for the promo case");
  // The same etag again is stale.
  EXPECT_EQ(
      c_->Call(&S::UpdateOneOnOne, c_->Token("ic-eng-1"), update, &updated)
          .error_code(),
      grpc::StatusCode::ABORTED);
  EXPECT_EQ(
      c_->Call(&S::UpdateOneOnOne, c_->Token("ic-eng-2"), update, &updated)
          .error_code(),
      grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(
      c_->Call(&S::ListOneOnOnes, c_->Token("mgr-eng"), list, &listed).ok());
  EXPECT_EQ(listed.one_on_ones(0).my_private_note(),
            "Ask about the on-call load");
  ASSERT_TRUE(
      c_->Call(&S::ListOneOnOnes, c_->Token("ic-eng-2"), list, &listed).ok());
  EXPECT_EQ(listed.one_on_ones_size(), 0);

  // The next meeting carries the open item until it is done.
  fv1::CreateOneOnOneRequest next;
  next.mutable_one_on_one()->set_manager(c_->Person("mgr-eng"));
  next.mutable_one_on_one()->set_report(c_->Person("ic-eng-1"));
  *next.mutable_one_on_one()->mutable_scheduled_time() = at(absl::Hours(170));
  fv1::OneOnOne second;
  ASSERT_TRUE(
      c_->Call(&S::CreateOneOnOne, c_->Token("ic-eng-1"), next, &second).ok());
  ASSERT_EQ(second.action_items_size(), 1);
  EXPECT_TRUE(second.action_items(0).carried_over());
  fv1::CompleteActionItemRequest done;
  done.set_name(second.action_items(0).name());
  fv1::OneOnOne after;
  ASSERT_TRUE(
      c_->Call(&S::CompleteActionItem, c_->Token("ic-eng-1"), done, &after)
          .ok());
  // Shown done on the meeting it was carried into; not carried further.
  ASSERT_EQ(after.action_items_size(), 1);
  EXPECT_TRUE(after.action_items(0).done());
  *next.mutable_one_on_one()->mutable_scheduled_time() = at(absl::Hours(340));
  fv1::OneOnOne third;
  ASSERT_TRUE(
      c_->Call(&S::CreateOneOnOne, c_->Token("mgr-eng"), next, &third).ok());
  EXPECT_EQ(third.action_items_size(), 0);
  ASSERT_TRUE(
      c_->Call(&S::ListOneOnOnes, c_->Token("mgr-eng"), list, &listed).ok());
  ASSERT_EQ(listed.one_on_ones_size(), 3);
  EXPECT_EQ(listed.one_on_ones(0).name(), third.name());  // latest first
  EXPECT_EQ(listed.one_on_ones(1).name(), second.name());
  ASSERT_EQ(listed.one_on_ones(2).action_items_size(), 1);
  EXPECT_TRUE(listed.one_on_ones(2).action_items(0).done());
  EXPECT_EQ(
      c_->Call(&S::CompleteActionItem, c_->Token("ic-sales-1"), done, &after)
          .error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(FeedbackIT, StatsKeepTheFloor) {
  fv1::Feedback f;
  ASSERT_TRUE(c_->Give("mgr-eng", "ic-eng-1", fv1::PRAISE,
                       fv1::SUBJECT_AND_MANAGERS, false, &f)
                  .ok());
  ASSERT_TRUE(c_->Give("ic-eng-2", "ic-eng-1", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_ONLY, true, &f)
                  .ok());
  fv1::GetFeedbackStatsRequest req;
  req.set_person(c_->Person("ic-eng-1"));
  req.set_start_date("2020-01-01");
  req.set_end_date("2099-12-31");
  fv1::FeedbackStats stats;
  EXPECT_EQ(c_->Call(&S::GetFeedbackStats, c_->Token("ic-sales-1"), req, &stats)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      c_->Call(&S::GetFeedbackStats, c_->Token("mgr-eng"), req, &stats).ok());
  // One anonymous author this month: withheld, with the reason.
  EXPECT_TRUE(stats.withheld());
  EXPECT_THAT(stats.withheld_reason(), HasSubstr("fewer than 3"));
  EXPECT_EQ(stats.counts_size(), 0);
  ASSERT_TRUE(c_->Give("ic-eng-3", "ic-eng-1", fv1::CONSTRUCTIVE,
                       fv1::SUBJECT_ONLY, true, &f)
                  .ok());
  ASSERT_TRUE(c_->Give("ic-eng-4", "ic-eng-1", fv1::OBSERVATION,
                       fv1::SUBJECT_ONLY, true, &f)
                  .ok());
  ASSERT_TRUE(
      c_->Call(&S::GetFeedbackStats, c_->ServiceToken(), req, &stats).ok());
  EXPECT_FALSE(stats.withheld()) << stats.withheld_reason();
  EXPECT_EQ(stats.total(), 4);
  EXPECT_EQ(stats.start_date(), "2020-01-01");
  EXPECT_EQ(stats.end_date(), "2099-12-31");
  // A team: its lead reads it.
  fv1::GetFeedbackStatsRequest team;
  team.set_team(c_->Team("eng"));
  team.set_start_date("2020-01-15");
  team.set_end_date("2099-12-15");
  ASSERT_TRUE(
      c_->Call(&S::GetFeedbackStats, c_->Token("mgr-eng"), team, &stats).ok());
  EXPECT_EQ(stats.start_date(), "2020-01-01");  // whole months
  EXPECT_EQ(stats.total(), 4);
  EXPECT_EQ(c_->Call(&S::GetFeedbackStats, c_->Token("ic-eng-2"), team, &stats)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  req.set_end_date("2019-01-01");
  EXPECT_EQ(c_->Call(&S::GetFeedbackStats, c_->Token("mgr-eng"), req, &stats)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(FeedbackDependencyIT, PeopleOrGoalsDownIsUnavailableAndWritesNothing) {
  auto c = FeedbackCluster::Start(
      Db::kSqlite, {"--dependency_cache_ttl=0s", "--dependency_timeout=1s"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto& cluster = **c;
  // The goals service down: feedback naming a goal is refused, retryably.
  cluster.goals().service().Stop();
  fv1::CreateFeedbackRequest req;
  req.mutable_feedback()->set_subject(cluster.Person("ic-eng-1"));
  req.mutable_feedback()->set_kind(fv1::PRAISE);
  req.mutable_feedback()->set_visibility(fv1::SUBJECT_ONLY);
  req.mutable_feedback()->set_body("Nice");
  req.mutable_feedback()->set_goal("goals/abc");
  fv1::Feedback out;
  EXPECT_EQ(
      cluster.Call(&S::CreateFeedback, cluster.Token("ic-eng-2"), req, &out)
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // The people service down: no relationship can be derived.
  cluster.goals().people().service().Stop();
  req.mutable_feedback()->clear_goal();
  EXPECT_EQ(
      cluster.Call(&S::CreateFeedback, cluster.Token("ic-eng-2"), req, &out)
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // Reads go on from the replica, and show that nothing was written.
  std::vector<fv1::Feedback> listed;
  fv1::ListFeedbackRequest list;
  list.set_subject(cluster.Person("ic-eng-1"));
  ASSERT_TRUE(cluster.ListAll("ic-eng-1", list, &listed).ok());
  EXPECT_TRUE(listed.empty());
}

// On PostgreSQL a new piece of feedback is one READ COMMITTED insert: many at
// once all succeed, and concurrent retries of one request (the same
// request_id) all get the first answer, never an error from the unique key.
TEST(FeedbackPostgresIT, ConcurrentCreatesAndRetriesOfOneRequestAllSucceed) {
  auto started = FeedbackCluster::Start(Db::kPostgres);
  ASSERT_TRUE(started.ok()) << started.status();
  FeedbackCluster& c = **started;
  constexpr int kGivers = 8, kEach = 5, kRetriers = 8;
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::set<std::string> distinct, retried;
  std::vector<std::thread> threads;
  auto record = [&](const grpc::Status& s, const fv1::Feedback& out,
                    std::set<std::string>* names) {
    absl::MutexLock lock(&mu);
    ++codes[s.error_code()];
    if (s.ok()) names->insert(out.name());
  };
  for (int t = 0; t < kGivers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        fv1::Feedback out;
        grpc::Status s =
            c.Give("ic-eng-2", "ic-eng-1", fv1::PRAISE, fv1::PUBLIC, false,
                   &out, absl::StrCat("thanks ", t, "-", i), {}, "",
                   absl::StrCat("give-", t, "-", i));
        record(s, out, &distinct);
      }
    });
  }
  for (int t = 0; t < kRetriers; ++t) {
    threads.emplace_back([&] {
      fv1::Feedback out;
      grpc::Status s =
          c.Give("ic-sales-1", "ic-sales-2", fv1::PRAISE, fv1::PUBLIC, false,
                 &out, "one request", {}, "", "the-same-request");
      record(s, out, &retried);
    });
  }
  for (auto& th : threads) th.join();
  auto metrics = c.service().ScrapeMetrics();
  const double retries =
      metrics.ok() ? SeriesValue(*metrics, "sightline_sql_retries_total", {})
                   : -1;
  std::printf(
      "feedback creates: %d calls, OK %d, ABORTED %d, UNAVAILABLE %d, "
      "ALREADY_EXISTS %d, database retries %.0f\n",
      kGivers * kEach + kRetriers, codes[grpc::StatusCode::OK],
      codes[grpc::StatusCode::ABORTED], codes[grpc::StatusCode::UNAVAILABLE],
      codes[grpc::StatusCode::ALREADY_EXISTS], retries);
  EXPECT_EQ(codes[grpc::StatusCode::OK], kGivers * kEach + kRetriers);
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kGivers * kEach));
  EXPECT_EQ(retried.size(), 1u);
  // Stored once each: every distinct one, and the retried request once.
  std::vector<fv1::Feedback> listed;
  fv1::ListFeedbackRequest list;
  list.set_subject(c.Person("ic-eng-1"));
  ASSERT_TRUE(c.ListAll("ic-eng-1", list, &listed).ok());
  EXPECT_EQ(listed.size(), distinct.size());
  list.set_subject(c.Person("ic-sales-2"));
  ASSERT_TRUE(c.ListAll("ic-sales-2", list, &listed).ok());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name(), *retried.begin());
}

INSTANTIATE_TEST_SUITE_P(Databases, FeedbackCoreIT,
                         ::testing::Values(Db::kSqlite, Db::kPostgres),
                         [](const auto& info) {
                           return info.param == Db::kSqlite
                                      ? std::string("Sqlite")
                                      : std::string("Postgres");
                         });

}  // namespace
}  // namespace sightline::testing
