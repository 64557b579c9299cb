#pragma once

// The feedback service's use cases: who may do what, the anonymity rules, and
// the calls to the org and the goals service, over a FeedbackRepository.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/feedback/org.h"
#include "services/feedback/repository.h"
#include "services/feedback/rules.h"

namespace sightline::feedback {

struct FeedbackOptions {
  // Distinct authors a summary with anonymous or upward feedback needs.
  int anonymity_floor = 3;
  // Told of every new feedback (for metrics): kind and relationship numbers.
  std::function<void(int kind, int relationship)> on_created;
};

struct ListSpec {
  std::string subject_id, author_id, goal_id;
  int kind = 0, relationship = 0;
  std::optional<int64_t> start_day, end_day;
};

// A request as one caller sees it.
struct RequestView {
  store::Request request;
  ResponderState state = ResponderState::kUnspecified;
  int asked = 0, completed = 0, declined = 0, expired = 0;
};

struct SummaryGroup {
  int relationship = 0;
  std::string withheld_reason;  // non-empty: withheld
  std::vector<store::Feedback> responses;
};
struct Summary {
  store::Review review;
  std::vector<SummaryGroup> groups;
};

struct Stats {
  int64_t start_day = 0, end_day = 0;  // inclusive
  std::string withheld_reason;
  std::vector<std::tuple<int, int, int>> counts;  // kind, relationship, count
  int total = 0, asked = 0, answered = 0;
  // In whole days from the day asked to the day answered: anonymous answers
  // keep the day only, and so does every aggregate over them.
  double median_response_days = 0;
};

class FeedbackService {
 public:
  FeedbackService(FeedbackRepository* repo, Org* org, GoalCheck* goals,
                  FeedbackOptions options);
  // Loads the pseudonym key; call once before serving.
  absl::Status Init();
  int floor() const { return floor_; }

  // The caller a principal stands for: `person_id` from the org; `key` its
  // pseudonym.
  Caller MakeCaller(const std::string& person_id, const std::string& subject,
                    bool hr_admin, bool service) const;

  absl::StatusOr<store::Feedback> CreateFeedback(const Caller& caller,
                                                 store::Feedback f,
                                                 const std::string& author_id,
                                                 const Idempotency& idem);
  absl::StatusOr<store::Feedback> GetFeedback(const Caller& caller,
                                              const std::string& id);
  absl::StatusOr<std::vector<store::Feedback>> ListFeedback(
      const Caller& caller, const ListSpec& spec, const Page& page,
      std::string* next);
  absl::StatusOr<store::Feedback> Acknowledge(const Caller& caller,
                                              const std::string& id,
                                              int reaction);
  absl::StatusOr<ReactionCounts> Reactions(const Caller& caller,
                                           const store::Feedback& f);

  absl::StatusOr<RequestView> CreateRequest(const Caller& caller,
                                            store::Request r,
                                            const Idempotency& idem);
  absl::StatusOr<std::vector<RequestView>> ListRequests(const Caller& caller,
                                                        bool inbox,
                                                        bool include_closed,
                                                        const Page& page,
                                                        std::string* next);
  absl::StatusOr<RequestView> Decline(const Caller& caller,
                                      const std::string& id,
                                      const std::string& reason);

  absl::StatusOr<store::Review> CreateReview(const Caller& caller,
                                             store::Review review,
                                             const std::string& prompt,
                                             const Idempotency& idem);
  absl::StatusOr<Summary> ReviewSummary(const Caller& caller,
                                        const std::string& id, int relationship,
                                        const std::string& tag);

  absl::StatusOr<std::vector<store::Feedback>> ListRecognition(
      const Caller& caller, const std::string& team_id, const Page& page,
      std::string* next);
  absl::StatusOr<store::Feedback> React(const Caller& caller,
                                        const std::string& id, int reaction);
  // Whether a recognition event belongs to a team's feed (empty: all).
  bool InTeamFeed(const store::Feedback& f, const std::string& team_id) const;

  absl::StatusOr<store::OneOnOne> CreateOneOnOne(const Caller& caller,
                                                 store::OneOnOne m,
                                                 const Idempotency& idem);
  absl::StatusOr<store::OneOnOne> UpdateOneOnOne(const Caller& caller,
                                                 const std::string& id,
                                                 const std::string& etag,
                                                 OneOnOneChange change);
  absl::StatusOr<std::vector<store::OneOnOne>> ListOneOnOnes(
      const Caller& caller, const std::string& with_id, const Page& page);
  absl::StatusOr<store::OneOnOne> CompleteActionItem(const Caller& caller,
                                                     const std::string& id,
                                                     const std::string& item);
  static std::string OneOnOneEtag(const store::OneOnOne& m);

  absl::StatusOr<Stats> GetStats(const Caller& caller,
                                 const std::string& person_id,
                                 const std::string& team_id, int64_t start_day,
                                 int64_t end_day);

  // (open, overdue) responder parts, for the gauges.
  absl::StatusOr<std::pair<int64_t, int64_t>> Census();

 private:
  std::string Pseudonym(absl::string_view principal) const;
  RequestView ViewOf(const Caller& caller, const store::Request& r,
                     int64_t now) const;
  absl::StatusOr<store::Feedback> Readable(const Caller& caller,
                                           const std::string& id);
  absl::StatusOr<store::OneOnOne> Participating(const Caller& caller,
                                                const std::string& id);
  absl::Status ValidateOneOnOne(const store::OneOnOne& m, const char* prefix);

  FeedbackRepository* repo_;
  Org* org_;
  GoalCheck* goals_;
  FeedbackOptions options_;
  int floor_;
  std::string key_;
};

}  // namespace sightline::feedback
