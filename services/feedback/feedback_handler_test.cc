#include "services/feedback/feedback_handler.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "gtest/gtest.h"
#include "lib/status/status.h"
#include "lib/storage/change_log.h"
#include "lib/storage/database.h"
#include "lib/storage/schema.h"
#include "lib/testing/harness.h"
#include "lib/testing/in_process.h"
#include "lib/testing/status_matchers.h"
#include "services/feedback/fakes.h"
#include "services/feedback/sql_repository.h"

namespace sightline::feedback {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::sightline::testing::InvalidNaming;
using ::sightline::testing::IsOk;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test";

// The handler on an in-process server (port 0) over the service, a real
// SQLite store, and the fake org and goals: eng is mia with ann, bob, carl.
class FeedbackHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(bed_.Open("feedback", FeedbackMigrations(), kSecret), IsOk());
    repo_ = NewSqlRepository(bed_.db());
    org_.AddTeam("eng", "mia");
    org_.AddPerson("mia", "eng", "");
    for (const char* id : {"ann", "bob", "carl"})
      org_.AddPerson(id, "eng", "mia");
    goals_.Add("g1", {"goals/g1/keyResults/k1"});
    service_ = std::make_unique<FeedbackService>(repo_.get(), &org_, &goals_,
                                                 FeedbackOptions{});
    ASSERT_THAT(service_->Init(), IsOk());

    handler_ = std::make_unique<FeedbackHandler>(
        bed_.runtime(), service_.get(), &org_, bed_.WatchDeps("recognition"));
    auto channel = bed_.Serve(handler_.get());
    ASSERT_NE(channel, nullptr);
    stub_ = v1::FeedbackService::NewStub(channel);
  }

  void TearDown() override { bed_.Stop(); }

  // A client context carrying a token for people/`person` ("" for none).
  std::unique_ptr<grpc::ClientContext> As(const std::string& person) {
    return ::sightline::testing::ContextAs(
        kSecret, person.empty() ? "" : absl::StrCat("people/", person));
  }

  static v1::CreateFeedbackRequest Praise(const std::string& subject) {
    v1::CreateFeedbackRequest req;
    auto* f = req.mutable_feedback();
    f->set_subject(absl::StrCat("people/", subject));
    f->set_kind(v1::PRAISE);
    f->set_visibility(v1::PUBLIC);
    f->set_body(absl::StrCat("Thanks, ", subject, "!"));
    return req;
  }

  grpc::Status Create(const std::string& author,
                      const v1::CreateFeedbackRequest& req, v1::Feedback* out) {
    return stub_->CreateFeedback(As(author).get(), req, out);
  }

  ::sightline::testing::HandlerBed bed_;
  std::unique_ptr<FeedbackRepository> repo_;
  FakeOrg org_;
  FakeGoals goals_;
  std::unique_ptr<FeedbackService> service_;
  std::unique_ptr<FeedbackHandler> handler_;
  std::unique_ptr<v1::FeedbackService::Stub> stub_;
};

TEST_F(FeedbackHandlerTest, RefusesCallsWithoutAToken) {
  v1::Feedback f;
  EXPECT_THAT(Create("", Praise("ann"), &f),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  v1::ListFeedbackRequest list;
  list.set_subject("people/ann");
  v1::ListFeedbackResponse resp;
  EXPECT_THAT(stub_->ListFeedback(As("").get(), list, &resp),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
  auto ctx = As("");
  auto reader = stub_->WatchRecognition(ctx.get(), {});
  v1::WatchRecognitionResponse event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_THAT(reader->Finish(),
              GrpcStatusIs(grpc::StatusCode::UNAUTHENTICATED));
}

TEST_F(FeedbackHandlerTest, CreateFeedbackNamesEveryBadField) {
  v1::CreateFeedbackRequest req = Praise("ann");
  auto* f = req.mutable_feedback();
  f->set_subject("persons/ann");
  f->set_kind(static_cast<v1::Kind>(42));
  f->set_goal("goal/g1");
  f->set_request("feedbackRequests/");
  v1::Feedback out;
  grpc::Status st = Create("bob", req, &out);
  absl::Status s = status::FromGrpc(st);
  for (const char* field : {"feedback.subject", "feedback.kind",
                            "feedback.goal", "feedback.request"}) {
    EXPECT_THAT(s, InvalidNaming(field));
  }
  // A key result of another goal.
  req = Praise("ann");
  req.mutable_feedback()->set_goal("goals/g1");
  req.mutable_feedback()->set_key_result("goals/g2/keyResults/k1");
  EXPECT_THAT(status::FromGrpc(Create("bob", req, &out)),
              InvalidNaming("feedback.key_result"));
  // Rules the service checks come back naming their field too.
  req = Praise("ann");
  req.mutable_feedback()->set_kind(v1::CONSTRUCTIVE);
  EXPECT_THAT(status::FromGrpc(Create("bob", req, &out)),
              InvalidNaming("feedback.visibility"));
  req = Praise("ann");
  req.mutable_feedback()->set_author("people/carl");
  EXPECT_THAT(Create("bob", req, &out),
              GrpcStatusIs(grpc::StatusCode::PERMISSION_DENIED));
  req = Praise("ann");
  req.set_request_id("not a uuid!");
  EXPECT_THAT(status::FromGrpc(Create("bob", req, &out)),
              InvalidNaming("request_id"));
}

TEST_F(FeedbackHandlerTest, AnonymousFeedbackComesBackWithoutAuthorOrTime) {
  v1::CreateFeedbackRequest req = Praise("ann");
  auto* in = req.mutable_feedback();
  in->set_visibility(v1::SUBJECT_ONLY);
  in->set_anonymous(true);
  in->set_relationship(v1::DOWNWARD);  // output only: derived
  v1::Feedback out;
  ASSERT_THAT(Create("bob", req, &out), GrpcOk());
  EXPECT_EQ(out.author(), "");
  EXPECT_EQ(out.relationship(), v1::PEER);
  EXPECT_EQ(out.create_time().seconds() % 86400, 0);
  EXPECT_EQ(out.create_time().nanos(), 0);
  EXPECT_EQ(out.create_date().size(), 10u);

  v1::GetFeedbackRequest get;
  get.set_name(out.name());
  v1::Feedback read;
  ASSERT_THAT(stub_->GetFeedback(As("ann").get(), get, &read), GrpcOk());
  EXPECT_EQ(read.author(), "");
  EXPECT_EQ(read.body(), out.body());
  EXPECT_THAT(stub_->GetFeedback(As("carl").get(), get, &read),
              GrpcStatusIs(grpc::StatusCode::NOT_FOUND));
  get.set_name("feedback/");
  EXPECT_THAT(status::FromGrpc(stub_->GetFeedback(As("ann").get(), get, &read)),
              InvalidNaming("name"));
}

// The goals service is asked with the author's own token, so that its
// visibility rules decide which goals the author may reference.
TEST_F(FeedbackHandlerTest, GoalsAreCheckedWithTheAuthorsOwnToken) {
  v1::CreateFeedbackRequest req = Praise("ann");
  req.mutable_feedback()->set_goal("goals/g1");
  v1::Feedback out;
  ASSERT_THAT(Create("bob", req, &out), GrpcOk());
  std::string header = goals_.last_authorization();
  ASSERT_TRUE(absl::StartsWith(header, "Bearer ")) << header;
  std::vector<std::string> parts =
      absl::StrSplit(header.substr(std::string("Bearer ").size()), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string claims;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &claims));
  EXPECT_THAT(claims, ::testing::HasSubstr("\"sub\":\"people/bob\""));
}

TEST_F(FeedbackHandlerTest, RetryWithTheSameRequestIdCreatesOnce) {
  v1::CreateFeedbackRequest req = Praise("ann");
  req.set_request_id("6f1c8a52-6c07-4b0e-9a1e-2f6f2b1d9c11");
  v1::Feedback first, again;
  ASSERT_THAT(Create("bob", req, &first), GrpcOk());
  ASSERT_THAT(Create("bob", req, &again), GrpcOk());
  EXPECT_EQ(again.name(), first.name());
  req.mutable_feedback()->set_body("A different body.");
  EXPECT_THAT(status::FromGrpc(Create("bob", req, &again)),
              InvalidNaming("request_id"));
  v1::ListFeedbackRequest list;
  list.set_subject("people/ann");
  v1::ListFeedbackResponse resp;
  ASSERT_THAT(stub_->ListFeedback(As("ann").get(), list, &resp), GrpcOk());
  EXPECT_EQ(resp.feedback_size(), 1);
}

TEST_F(FeedbackHandlerTest, ListFeedbackValidatesAndBindsItsPageTokens) {
  std::set<std::string> made;
  for (int i = 0; i < 5; ++i) {
    v1::Feedback out;
    ASSERT_THAT(Create("bob", Praise("ann"), &out), GrpcOk());
    made.insert(out.name());
  }
  v1::ListFeedbackRequest list;
  v1::ListFeedbackResponse resp;
  EXPECT_THAT(
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp)),
      InvalidNaming("subject"));
  list.set_subject("people/ann");
  list.set_goal("goals/g1");
  EXPECT_THAT(
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp)),
      InvalidNaming("subject"));
  list.clear_goal();
  list.set_start_date("2025-13-01");
  list.set_page_size(-1);
  auto bad =
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp));
  EXPECT_THAT(bad, InvalidNaming("start_date"));
  list.clear_start_date();
  EXPECT_THAT(
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp)),
      InvalidNaming("page_size"));
  list.set_page_size(2);
  list.set_page_token("garbage");
  EXPECT_THAT(
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp)),
      InvalidNaming("page_token"));

  // Pages of 2 cover the 5, once each.
  list.clear_page_token();
  std::vector<std::string> seen;
  std::string first_token;
  for (int i = 0; i < 10; ++i) {
    resp.Clear();
    ASSERT_THAT(stub_->ListFeedback(As("carl").get(), list, &resp), GrpcOk());
    for (const auto& f : resp.feedback()) seen.push_back(f.name());
    if (first_token.empty()) first_token = resp.next_page_token();
    if (resp.next_page_token().empty()) break;
    list.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), made);
  // A token is bound to its query.
  ASSERT_FALSE(first_token.empty());
  list.set_page_token(first_token);
  list.set_kind(v1::CONSTRUCTIVE);
  EXPECT_THAT(
      status::FromGrpc(stub_->ListFeedback(As("ann").get(), list, &resp)),
      InvalidNaming("page_token"));
}

TEST_F(FeedbackHandlerTest, PeopleOrGoalsDownIsUnavailableAndWritesNothing) {
  v1::Feedback out;
  org_.set_down(true);
  EXPECT_THAT(Create("bob", Praise("ann"), &out),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  org_.set_down(false);
  v1::CreateFeedbackRequest req = Praise("ann");
  req.mutable_feedback()->set_goal("goals/g1");
  goals_.set_down(true);
  EXPECT_THAT(Create("bob", req, &out),
              GrpcStatusIs(grpc::StatusCode::UNAVAILABLE));
  goals_.set_down(false);
  v1::ListFeedbackRequest list;
  list.set_subject("people/ann");
  v1::ListFeedbackResponse resp;
  ASSERT_THAT(stub_->ListFeedback(As("ann").get(), list, &resp), GrpcOk());
  EXPECT_EQ(resp.feedback_size(), 0);
  ASSERT_THAT(Create("bob", req, &out), GrpcOk());
  EXPECT_EQ(out.goal(), "goals/g1");
}

TEST_F(FeedbackHandlerTest, WatchRecognitionStreamsAndResumes) {
  auto ctx = As("carl");
  auto reader = stub_->WatchRecognition(ctx.get(), {});
  reader->WaitForInitialMetadata();  // positioned at the head
  v1::Feedback made, hidden;
  ASSERT_THAT(Create("bob", Praise("ann"), &made), GrpcOk());
  v1::CreateFeedbackRequest private_req = Praise("ann");
  private_req.mutable_feedback()->set_visibility(v1::SUBJECT_ONLY);
  ASSERT_THAT(Create("bob", private_req, &hidden), GrpcOk());
  v1::ReactToRecognitionRequest react;
  react.set_name(made.name());
  react.set_reaction(static_cast<v1::Reaction>(1));
  v1::Feedback reacted;
  ASSERT_THAT(stub_->ReactToRecognition(As("ann").get(), react, &reacted),
              GrpcOk());

  v1::WatchRecognitionResponse event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.change_type(), v1::WatchRecognitionResponse::CREATED);
  EXPECT_EQ(event.recognition().name(), made.name());
  EXPECT_EQ(event.recognition().author(), "people/bob");
  const std::string token = event.resume_token();
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.change_type(), v1::WatchRecognitionResponse::REACTED);
  EXPECT_EQ(event.recognition().name(), made.name());
  ctx->TryCancel();
  while (reader->Read(&event)) {
  }
  reader->Finish();

  // Resumed after the first event: the reaction only (the private
  // feedback never was an event).
  auto again_ctx = As("carl");
  v1::WatchRecognitionRequest resume;
  resume.set_resume_token(token);
  auto again = stub_->WatchRecognition(again_ctx.get(), resume);
  ASSERT_TRUE(again->Read(&event));
  EXPECT_EQ(event.change_type(), v1::WatchRecognitionResponse::REACTED);
  again_ctx->TryCancel();
  while (again->Read(&event)) {
  }
  again->Finish();

  // A forged token and an unknown team are refused, naming the field.
  auto forged_ctx = As("carl");
  resume.set_resume_token(absl::StrCat(token, "x"));
  auto forged = stub_->WatchRecognition(forged_ctx.get(), resume);
  EXPECT_FALSE(forged->Read(&event));
  EXPECT_THAT(status::FromGrpc(forged->Finish()),
              InvalidNaming("resume_token"));
  auto team_ctx = As("carl");
  v1::WatchRecognitionRequest team;
  team.set_team("team/eng");
  auto by_team = stub_->WatchRecognition(team_ctx.get(), team);
  EXPECT_FALSE(by_team->Read(&event));
  EXPECT_THAT(status::FromGrpc(by_team->Finish()), InvalidNaming("team"));
}

TEST_F(FeedbackHandlerTest, OneOnOneRequestsNameTheirBadFields) {
  v1::CreateOneOnOneRequest req;
  auto* m = req.mutable_one_on_one();
  m->set_manager("people/mia");
  m->set_report("ann");
  m->mutable_scheduled_time()->set_seconds(-5);
  auto* item = m->add_action_items();
  item->set_text("Follow up");
  item->set_owner("owner/ann");
  v1::OneOnOne out;
  auto s = status::FromGrpc(stub_->CreateOneOnOne(As("mia").get(), req, &out));
  for (const char* field : {"one_on_one.report", "one_on_one.scheduled_time",
                            "one_on_one.action_items[0].owner"}) {
    EXPECT_THAT(s, InvalidNaming(field));
  }
  m->set_report("people/ann");
  m->mutable_scheduled_time()->set_seconds(1767225600);
  item->set_owner("people/ann");
  ASSERT_THAT(stub_->CreateOneOnOne(As("mia").get(), req, &out), GrpcOk());
  EXPECT_EQ(out.manager(), "people/mia");
  ASSERT_EQ(out.action_items_size(), 1);
  EXPECT_THAT(out.action_items(0).name(),
              ::testing::StartsWith(absl::StrCat(out.name(), "/actionItems/")));
  v1::ListOneOnOnesResponse listed;
  ASSERT_THAT(stub_->ListOneOnOnes(As("carl").get(), {}, &listed), GrpcOk());
  EXPECT_EQ(listed.one_on_ones_size(), 0);
  ASSERT_THAT(stub_->ListOneOnOnes(As("ann").get(), {}, &listed), GrpcOk());
  EXPECT_EQ(listed.one_on_ones_size(), 1);
}

}  // namespace
}  // namespace sightline::feedback
