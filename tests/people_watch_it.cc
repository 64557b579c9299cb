// WatchPeople through the real binary, on SQLite and on PostgreSQL: every
// committed change in commit order, and resuming after a disconnect with no
// gap and no duplicate.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/status_matchers.h"
#include "tests/people_cluster.h"

namespace sightline::testing {
namespace {

using ::sightline::testing::GrpcOk;
using ::sightline::testing::GrpcStatusIs;
using ::testing::ElementsAreArray;

using Change = pv1::WatchPeopleResponse;

// What a change event is about: ("CREATED", "person E3"), ("UPDATED", "team
// T1")...
using Event = std::pair<std::string, std::string>;

Event EventOf(const Change& c) {
  std::string what =
      c.has_person()
          ? absl::StrCat("person ", c.person().external_id())
          : (c.has_team() ? absl::StrCat("team ", c.team().external_id())
                          : "nothing");
  return {Change::ChangeType_Name(c.change_type()), what};
}

Event Created(const std::string& what) { return {"CREATED", what}; }
Event Updated(const std::string& what) { return {"UPDATED", what}; }

std::vector<Event> PeopleCreated(int from, int to) {
  std::vector<Event> out;
  for (int i = from; i < to; ++i)
    out.push_back(Created(absl::StrCat("person E", i)));
  return out;
}

// A watch with its own deadline, so that a missing event fails the read
// instead of hanging the test.
class Watch {
 public:
  Watch(pv1::PeopleService::Stub* stub, const std::string& token,
        const std::string& resume_token) {
    Authorize(&ctx_, token, absl::Seconds(30));
    pv1::WatchPeopleRequest req;
    req.set_resume_token(resume_token);
    reader_ = stub->WatchPeople(&ctx_, req);
    // The server sends headers once the stream is positioned: whatever
    // commits after this is seen.
    reader_->WaitForInitialMetadata();
  }

  // Reads `n` changes; fewer if the stream ends or the deadline passes.
  std::vector<Change> Read(int n) {
    std::vector<Change> out;
    for (int i = 0; i < n; ++i) {
      Change c;
      if (!reader_->Read(&c)) break;
      out.push_back(std::move(c));
    }
    return out;
  }

  // Disconnects as a client does, and returns how the stream ended.
  grpc::Status Cancel() {
    ctx_.TryCancel();
    return reader_->Finish();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Change>> reader_;
};

std::vector<Event> Events(const std::vector<Change>& changes) {
  std::vector<Event> out;
  for (const auto& c : changes) out.push_back(EventOf(c));
  return out;
}

class PeopleWatchTest : public ::testing::TestWithParam<Db> {
 protected:
  void SetUp() override {
    auto c = PeopleCluster::Start(GetParam());
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    stub_ = cluster_->Stub();
  }

  std::unique_ptr<Watch> Open(const std::string& resume_token = "") {
    return std::make_unique<Watch>(stub_.get(), cluster_->EmployeeToken(),
                                   resume_token);
  }

  // An incremental sync that must succeed.
  pv1::SyncPeopleResponse MustSync(
      const std::vector<pv1::SyncPeopleRequest>& records) {
    pv1::SyncPeopleResponse resp;
    EXPECT_THAT(cluster_->Sync(Incremental(), records, &resp), GrpcOk());
    return resp;
  }

  std::unique_ptr<PeopleCluster> cluster_;
  std::unique_ptr<pv1::PeopleService::Stub> stub_;
};

// A new title for some people of OrgRecords(n, 5, teams), in the given order.
std::vector<pv1::SyncPeopleRequest> Retitle(int n, const std::vector<int>& who,
                                            const std::string& title,
                                            int teams = 0) {
  auto all = OrgRecords(n, 5, teams);
  std::vector<pv1::SyncPeopleRequest> out;
  for (int i : who) {
    auto r = all[static_cast<size_t>(teams + i)];
    r.mutable_person()->set_title(title);
    out.push_back(std::move(r));
  }
  return out;
}

TEST_P(PeopleWatchTest, ResumesAfterADisconnectWithNoGapAndNoDuplicate) {
  constexpr int kCreated = 30, kReadFirst = 10;
  const std::vector<int> kRetitled = {17, 3, 29, 0, 11};

  auto first = Open();
  MustSync(OrgRecords(kCreated, 5, 0));
  std::vector<Change> before = first->Read(kReadFirst);
  ASSERT_EQ(before.size(), static_cast<size_t>(kReadFirst));
  EXPECT_THAT(Events(before), ElementsAreArray(PeopleCreated(0, kReadFirst)));
  const std::string resume = before.back().resume_token();
  ASSERT_FALSE(resume.empty());
  EXPECT_THAT(first->Cancel(), GrpcStatusIs(grpc::StatusCode::CANCELLED));

  // Changes while nobody watches.
  MustSync(Retitle(kCreated, kRetitled, "Principal Engineer"));

  std::vector<Event> want = PeopleCreated(kReadFirst, kCreated);
  for (int i : kRetitled) want.push_back(Updated(absl::StrCat("person E", i)));
  auto second = Open(resume);
  std::vector<Change> after = second->Read(static_cast<int>(want.size()));
  ASSERT_EQ(after.size(), want.size());
  EXPECT_THAT(Events(after), ElementsAreArray(want));
  for (size_t i = kCreated - kReadFirst; i < after.size(); ++i) {
    EXPECT_EQ(after[i].person().title(), "Principal Engineer");
  }
  // Every event has its own token.
  std::set<std::string> tokens;
  for (const auto& c : before) tokens.insert(c.resume_token());
  for (const auto& c : after) tokens.insert(c.resume_token());
  EXPECT_EQ(tokens.size(), before.size() + after.size());

  // Nothing else was pending: the next event is the next change.
  MustSync(Retitle(kCreated, {5}, "Manager"));
  std::vector<Change> next = second->Read(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(EventOf(next[0]), Updated("person E5"));
  EXPECT_THAT(second->Cancel(), GrpcStatusIs(grpc::StatusCode::CANCELLED));

  // Resuming from the middle again replays the same suffix.
  auto third = Open(after[kCreated - kReadFirst - 1].resume_token());
  std::vector<Change> tail =
      third->Read(static_cast<int>(kRetitled.size()) + 1);
  std::vector<Event> want_tail(want.end() - static_cast<long>(kRetitled.size()),
                               want.end());
  want_tail.push_back(Updated("person E5"));
  EXPECT_THAT(Events(tail), ElementsAreArray(want_tail));
  third->Cancel();
}

TEST_P(PeopleWatchTest, AWatchWithoutATokenSeesOnlyLaterChanges) {
  MustSync(OrgRecords(10, 5, 0));
  MustSync(Retitle(10, {4}, "Lead"));
  auto watch = Open();
  auto more = OrgRecords(15, 5, 0);
  more.erase(more.begin(), more.begin() + 10);  // E10..E14
  MustSync(more);
  std::vector<Change> got = watch->Read(5);
  EXPECT_THAT(Events(got), ElementsAreArray(PeopleCreated(10, 15)));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_FALSE(got[0].person().manager().empty());
  EXPECT_TRUE(got[0].has_commit_time());
  // The next event is the next change, not anything from before the watch.
  MustSync(Retitle(10, {2}, "Lead"));
  got = watch->Read(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(EventOf(got[0]), Updated("person E2"));
  EXPECT_EQ(got[0].person().title(), "Lead");
  watch->Cancel();
}

TEST_P(PeopleWatchTest, ASyncsResumeTokenWatchesFromRightAfterThatSync) {
  // Teams and people; the feed carries both.
  pv1::SyncPeopleResponse a = MustSync(OrgRecords(6, 5, 2));
  ASSERT_FALSE(a.resume_token().empty());

  // B creates E6 and changes E2 and team T1 in one transaction: team changes
  // first, then people created, then people updated.
  auto b_records = Retitle(6, {2}, "Lead", 2);
  b_records.push_back(PersonMsg("E6", "E0", "T0"));
  b_records.push_back(TeamMsg("T1"));
  b_records.back().mutable_team()->set_display_name("Platform");
  pv1::SyncPeopleResponse b = MustSync(b_records);
  ASSERT_EQ(b.people().created(), 1);
  ASSERT_EQ(b.people().updated(), 1);
  ASSERT_EQ(b.teams().updated(), 1);
  ASSERT_NE(b.resume_token(), a.resume_token());

  // A sync that changes nothing does not move the feed.
  pv1::SyncPeopleResponse noop = MustSync(Retitle(6, {2}, "Lead", 2));
  EXPECT_EQ(noop.people().unchanged(), 1);
  EXPECT_EQ(noop.resume_token(), b.resume_token());

  pv1::SyncPeopleResponse c = MustSync(Retitle(6, {5}, "Lead", 2));

  std::vector<Event> after_b = {Updated("person E5")};
  std::vector<Event> after_a = {Updated("team T1"), Created("person E6"),
                                Updated("person E2")};
  after_a.insert(after_a.end(), after_b.begin(), after_b.end());

  auto from_a = Open(a.resume_token());
  std::vector<Change> got = from_a->Read(static_cast<int>(after_a.size()));
  EXPECT_THAT(Events(got), ElementsAreArray(after_a));
  ASSERT_EQ(got.size(), after_a.size());
  EXPECT_EQ(got[0].team().display_name(), "Platform");
  EXPECT_EQ(got[1].person().manager(), got[2].person().manager());  // E0
  EXPECT_EQ(got[2].person().title(), "Lead");
  // The last event of B carries the token B returned.
  EXPECT_EQ(got[2].resume_token(), b.resume_token());
  EXPECT_EQ(got[3].resume_token(), c.resume_token());
  from_a->Cancel();

  auto from_b = Open(b.resume_token());
  got = from_b->Read(static_cast<int>(after_b.size()));
  EXPECT_THAT(Events(got), ElementsAreArray(after_b));
  from_b->Cancel();

  // From C's token: exactly the next change.
  auto from_c = Open(c.resume_token());
  MustSync(Retitle(6, {1}, "Lead", 2));
  got = from_c->Read(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(EventOf(got[0]), Updated("person E1"));
  from_c->Cancel();
}

TEST_P(PeopleWatchTest, AFirstSyncStreamsTeamsThenPeopleInRecordOrder) {
  auto watch = Open();
  pv1::SyncPeopleResponse resp;
  ASSERT_THAT(cluster_->Sync(Full(), OrgRecords(12, 3, 2), &resp), GrpcOk());
  std::vector<Event> want = {Created("team T0"), Created("team T1")};
  for (const auto& e : PeopleCreated(0, 12)) want.push_back(e);
  std::vector<Change> got = watch->Read(static_cast<int>(want.size()));
  EXPECT_THAT(Events(got), ElementsAreArray(want));
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got.back().resume_token(), resp.resume_token());
  // The events carry the resources as stored.
  EXPECT_EQ(got[2].person().external_id(), "E0");
  EXPECT_EQ(got[2].person().manager(), "");
  EXPECT_EQ(got[3].person().manager(), got[2].person().name());
  EXPECT_EQ(got[3].person().team(), got[1].team().name());  // E1 in T1
  watch->Cancel();
}

TEST_P(PeopleWatchTest, BadResumeTokensAreRefused) {
  MustSync(OrgRecords(3, 5, 0));
  for (const std::string token :
       {"garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    grpc::ClientContext ctx;
    Authorize(&ctx, cluster_->EmployeeToken());
    pv1::WatchPeopleRequest req;
    req.set_resume_token(token);
    auto reader = stub_->WatchPeople(&ctx, req);
    Change c;
    EXPECT_FALSE(reader->Read(&c));
    EXPECT_THAT(reader->Finish(),
                GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                             ::testing::HasSubstr("resume_token")))
        << token;
  }
  // A page token is not a resume token.
  grpc::ClientContext list_ctx;
  Authorize(&list_ctx, cluster_->EmployeeToken());
  pv1::ListPeopleRequest list;
  list.set_page_size(1);
  pv1::ListPeopleResponse page;
  ASSERT_THAT(stub_->ListPeople(&list_ctx, list, &page), GrpcOk());
  ASSERT_FALSE(page.next_page_token().empty());
  grpc::ClientContext ctx;
  Authorize(&ctx, cluster_->EmployeeToken());
  pv1::WatchPeopleRequest req;
  req.set_resume_token(page.next_page_token());
  auto reader = stub_->WatchPeople(&ctx, req);
  Change c;
  EXPECT_FALSE(reader->Read(&c));
  EXPECT_THAT(reader->Finish(),
              GrpcStatusIs(grpc::StatusCode::INVALID_ARGUMENT,
                           ::testing::HasSubstr("resume_token")));
}

INSTANTIATE_TEST_SUITE_P(Db, PeopleWatchTest,
                         ::testing::Values(Db::kSqlite, Db::kPostgres), DbName);

}  // namespace
}  // namespace sightline::testing
