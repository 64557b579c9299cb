#include "tests/feedback_cluster.h"

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace sightline::testing {

OrgSpec FeedbackOrg() {
  OrgSpec org;
  org.teams = {{"exec", "", "ceo"},
               {"eng", "exec", "mgr-eng"},
               {"platform", "eng", "ic-plat"},
               {"sales", "exec", "mgr-sales"}};
  org.people = {{"ceo", "", "exec", {}},
                {"hr", "ceo", "exec", {auth::Role::kHrAdmin}},
                {"mgr-eng", "ceo", "eng", {}},
                {"ic-eng-1", "mgr-eng", "eng", {}},
                {"ic-eng-2", "mgr-eng", "eng", {}},
                {"ic-eng-3", "mgr-eng", "eng", {}},
                {"ic-eng-4", "mgr-eng", "eng", {}},
                {"ic-plat", "mgr-eng", "platform", {}},
                {"mgr-sales", "ceo", "sales", {}},
                {"ic-sales-1", "mgr-sales", "sales", {}},
                {"ic-sales-2", "mgr-sales", "sales", {}}};
  return org;
}

absl::StatusOr<std::unique_ptr<FeedbackCluster>> FeedbackCluster::Start(
    Db db, std::vector<std::string> feedback_args, OrgSpec org) {
  std::unique_ptr<FeedbackCluster> c(new FeedbackCluster());
  auto goals = GoalsCluster::Start(db, {}, std::move(org));
  if (!goals.ok()) return goals.status();
  c->goals_ = std::move(*goals);
  PeopleCluster& people = c->goals_->people();
  std::string db_url = people.dir() + "/feedback.db";
  if (db == Db::kPostgres) {
    auto url = people.postgres()->CreateDatabase("feedback");
    if (!url.ok()) return url.status();
    db_url = *url;
  }
  std::vector<std::string> args = {
      "--db=" + db_url,
      "--redis=" + people.redis().url(),
      "--jwt_key_file=" + people.tokens().secret_file(),
      "--people_address=" + people.service().address(),
      "--goals_address=" + c->goals_->service().address(),
      "--change_poll_interval=50ms",
      "--shutdown_grace=10s"};
  args.insert(args.end(), feedback_args.begin(), feedback_args.end());
  auto svc = ServiceProcess::Start(
      people.dir(), "feedback", BinaryPath("SIGHTLINE_FEEDBACK_BINARY"), args);
  if (!svc.ok()) return svc.status();
  c->feedback_ = std::move(*svc);
  c->stub_ = fv1::FeedbackService::NewStub(c->feedback_->Channel());
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!absl::StrContains(c->feedback_->Log(), "people directory loaded")) {
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError("the feedback replica never loaded");
    absl::SleepFor(absl::Milliseconds(50));
  }
  return c;
}

FeedbackCluster::~FeedbackCluster() {
  stub_.reset();
  if (feedback_ != nullptr) feedback_->Stop();
  feedback_.reset();
  goals_.reset();
}

grpc::Status FeedbackCluster::Give(const std::string& as,
                                   const std::string& subject, fv1::Kind kind,
                                   fv1::Visibility visibility, bool anonymous,
                                   fv1::Feedback* out, const std::string& body,
                                   const std::vector<std::string>& competencies,
                                   const std::string& request,
                                   const std::string& request_id) {
  fv1::CreateFeedbackRequest req;
  auto* f = req.mutable_feedback();
  f->set_subject(Person(subject));
  f->set_kind(kind);
  f->set_visibility(visibility);
  f->set_anonymous(anonymous);
  f->set_body(body);
  for (const auto& c : competencies) f->add_competencies(c);
  f->set_request(request);
  req.set_request_id(request_id);
  return Call(&fv1::FeedbackService::Stub::CreateFeedback, Token(as), req, out);
}

grpc::Status FeedbackCluster::Get(const std::string& as,
                                  const std::string& name, fv1::Feedback* out) {
  fv1::GetFeedbackRequest req;
  req.set_name(name);
  return Call(&fv1::FeedbackService::Stub::GetFeedback, Token(as), req, out);
}

grpc::Status FeedbackCluster::ListAll(const std::string& as,
                                      fv1::ListFeedbackRequest req,
                                      std::vector<fv1::Feedback>* out) {
  out->clear();
  for (int i = 0; i < 1000; ++i) {
    fv1::ListFeedbackResponse resp;
    auto st =
        Call(&fv1::FeedbackService::Stub::ListFeedback, Token(as), req, &resp);
    if (!st.ok()) return st;
    for (const auto& f : resp.feedback()) out->push_back(f);
    if (resp.next_page_token().empty()) return st;
    req.set_page_token(resp.next_page_token());
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "too many pages");
}

}  // namespace sightline::testing
