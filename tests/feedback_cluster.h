#pragma once

// A real feedback service for cross-process tests: a GoalsCluster (Redis, the
// people and goals binaries, an org seeded through SyncPeople) and the
// sightline-feedback binary beside it, with its own database (a SQLite file,
// or a third database on the same PostgreSQL cluster). Everything is started
// by the test and stopped by pid.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sightline/feedback/v1/feedback_service.grpc.pb.h"
#include "tests/goals_cluster.h"

namespace sightline::testing {

namespace fv1 = ::sightline::feedback::v1;

// ceo (exec)
// +- hr (exec, hr_admin)
// +- mgr-eng (eng): ic-eng-1..4 (eng), ic-plat (platform)
// +- mgr-sales (sales): ic-sales-1, ic-sales-2 (sales)
OrgSpec FeedbackOrg();

class FeedbackCluster {
 public:
  static absl::StatusOr<std::unique_ptr<FeedbackCluster>> Start(
      Db db, std::vector<std::string> feedback_args = {},
      OrgSpec org = FeedbackOrg());
  ~FeedbackCluster();

  GoalsCluster& goals() { return *goals_; }
  ServiceProcess& service() { return *feedback_; }
  fv1::FeedbackService::Stub* stub() const { return stub_.get(); }

  const std::string& Person(const std::string& ext) const {
    return goals_->Person(ext);
  }
  const std::string& Team(const std::string& ext) const {
    return goals_->Team(ext);
  }
  std::string Token(const std::string& ext) const { return goals_->Token(ext); }
  std::string ServiceToken() const { return goals_->ServiceToken(); }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (fv1::FeedbackService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const std::string& token, const Req& req,
                    Resp* resp) const {
    grpc::ClientContext ctx;
    Authorize(&ctx, token, absl::Seconds(20));
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  // CreateFeedback as `as` about `subject` (HRIS keys).
  grpc::Status Give(const std::string& as, const std::string& subject,
                    fv1::Kind kind, fv1::Visibility visibility, bool anonymous,
                    fv1::Feedback* out, const std::string& body = "Thanks!",
                    const std::vector<std::string>& competencies = {},
                    const std::string& request = "",
                    const std::string& request_id = "");
  grpc::Status Get(const std::string& as, const std::string& name,
                   fv1::Feedback* out);
  // Every page of ListFeedback.
  grpc::Status ListAll(const std::string& as, fv1::ListFeedbackRequest req,
                       std::vector<fv1::Feedback>* out);

 private:
  FeedbackCluster() = default;
  std::unique_ptr<GoalsCluster> goals_;
  std::unique_ptr<ServiceProcess> feedback_;
  std::unique_ptr<fv1::FeedbackService::Stub> stub_;
};

}  // namespace sightline::testing
