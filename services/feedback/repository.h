#pragma once

// Storage of the feedback service's records. Every change runs in one
// transaction with its idempotency record and, for recognition, its
// change-log event (for WatchRecognition).

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/storage/database.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/schema.h"
#include "lib/storage/tokens.h"
#include "services/feedback/feedback_store.pb.h"

namespace sightline::feedback {

using storage::Idempotency;
using storage::Page;

// Change-log entity and kinds of recognition events.
inline constexpr char kRecognitionEntity[] = "recognition";
inline constexpr int kRecognitionCreated = 1;
inline constexpr int kRecognitionReacted = 2;

// Feedback is listed newest first by `rank`: the create time, or for
// anonymous feedback a random time within its day (so that the order within
// a day does not follow submission). Page cursors are "rank/id".
struct FeedbackQuery {
  // At most one of these; none with public_only: everyone's recognition.
  std::string subject_id;
  std::string author_key;
  std::string goal_id;
  std::string request_id;
  std::vector<std::string> subject_in;  // any of these subjects
  bool public_only = false;
  bool exclude_subject_only = false;
  // With public_only or exclude_subject_only: also what this author wrote.
  std::string or_author_key;
  bool exclude_anonymous = false;
  int kind = 0;
  int relationship = 0;
  // Create time in [from, to).
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t to = std::numeric_limits<int64_t>::max();
};

struct ReactionCounts {
  std::vector<std::pair<int, int>> counts;  // reaction -> count
  int mine = 0;
};

// Changes to a 1:1; unset parts stay as they are.
struct OneOnOneChange {
  std::optional<int64_t> scheduled_time;
  std::optional<std::vector<store::AgendaItem>> agenda;
  std::optional<std::string> my_note;
  std::vector<store::ActionItem> new_items;
  std::vector<store::ActionItem> edited_items;  // by id
};

class FeedbackRepository {
 public:
  virtual ~FeedbackRepository() = default;

  // The id a request_id already produced, if any.
  virtual absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) = 0;

  // Stores `f`; when it answers a request, completes `responder_id`'s part in
  // the same transaction (FAILED_PRECONDITION when that part is no longer
  // open). On a concurrent retry, the first answer's id.
  virtual absl::StatusOr<std::string> InsertFeedback(
      const store::Feedback& f, int64_t rank, const Idempotency& idem,
      const std::string& responder_id, int64_t now) = 0;
  virtual absl::StatusOr<store::Feedback> GetFeedback(
      const std::string& id) = 0;
  // A page in rank order after `page.after`; `cursors` (when set) receives
  // each row's cursor, so that a caller who filters rows out can stop after
  // any of them.
  virtual absl::StatusOr<std::vector<store::Feedback>> ListFeedback(
      const FeedbackQuery& q, const Page& page,
      std::vector<std::string>* cursors) = 0;
  virtual absl::StatusOr<store::Feedback> Acknowledge(const std::string& id,
                                                      int reaction,
                                                      int64_t now) = 0;
  // Sets (or with 0 removes) a person's reaction to PUBLIC feedback.
  virtual absl::Status React(const store::Feedback& f,
                             const std::string& person_id, int reaction) = 0;
  virtual absl::StatusOr<ReactionCounts> Reactions(
      const std::string& feedback_id, const std::string& person_id) = 0;

  // Requests (with a 360 review when `review` is set).
  virtual absl::StatusOr<std::string> InsertRequest(
      const store::Request& r, const store::Review* review,
      const Idempotency& idem) = 0;
  virtual absl::StatusOr<store::Request> GetRequest(const std::string& id) = 0;
  // Addressed to the person (inbox) or asked by them, newest first; the
  // inbox only open parts unless `include_closed`. `cursor` receives the
  // cursor of the last row read.
  virtual absl::StatusOr<std::vector<store::Request>> ListRequests(
      const std::string& person_id, bool inbox, bool include_closed,
      const Page& page, std::string* cursor) = 0;
  virtual absl::StatusOr<store::Request> Decline(const std::string& id,
                                                 const std::string& responder,
                                                 const std::string& reason,
                                                 int64_t now) = 0;
  // Requests about any of the subjects created in [from, to).
  virtual absl::StatusOr<std::vector<store::Request>> RequestsAbout(
      const std::vector<std::string>& subject_ids, int64_t from,
      int64_t to) = 0;

  virtual absl::StatusOr<store::Review> GetReview(const std::string& id) = 0;

  // 1:1s. Reads fill my_note for `reader` and the action items (this
  // meeting's, and open ones carried over from the pair's earlier meetings).
  virtual absl::StatusOr<std::string> InsertOneOnOne(
      const store::OneOnOne& m, const Idempotency& idem) = 0;
  virtual absl::StatusOr<store::OneOnOne> GetOneOnOne(
      const std::string& id, const std::string& reader) = 0;
  // ABORTED when the meeting is no longer at `revision`.
  virtual absl::Status UpdateOneOnOne(const std::string& id, int64_t revision,
                                      const std::string& writer,
                                      const OneOnOneChange& change,
                                      int64_t now) = 0;
  // Meetings of `person_id` (with `with_id` only, when set), latest first.
  virtual absl::StatusOr<std::vector<store::OneOnOne>> ListOneOnOnes(
      const std::string& person_id, const std::string& with_id,
      const Page& page) = 0;
  // NOT_FOUND when the item is not one of the meeting's (or carried into it).
  virtual absl::Status CompleteActionItem(const std::string& one_on_one_id,
                                          const std::string& item_id,
                                          int64_t now) = 0;

  // Responder parts still open: (before their due time, past it).
  virtual absl::StatusOr<std::pair<int64_t, int64_t>> OpenParts(
      int64_t now) = 0;

  // The service's secret for pseudonyms, made on first use.
  virtual absl::StatusOr<std::string> PseudonymKey() = 0;
};

}  // namespace sightline::feedback
