#pragma once

// The feedback service's rules, as plain functions of records and the org:
// how a relationship is derived, what a valid feedback is, who may read it,
// the anonymity floor, request states, and stats periods. No I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lib/org/org.h"
#include "lib/status/status.h"
#include "services/feedback/feedback_store.pb.h"

namespace sightline::feedback {

// Numbers as in sightline.feedback.v1.
enum class Relationship {
  kUnspecified = 0,
  kPeer = 1,
  kUpward = 2,
  kDownward = 3,
  kSelf = 4,
  kCustomer = 5
};
enum class Kind {
  kUnspecified = 0,
  kPraise = 1,
  kConstructive = 2,
  kObservation = 3
};
enum class Visibility {
  kUnspecified = 0,
  kSubjectOnly = 1,
  kSubjectAndManagers = 2,
  kPublic = 3
};
inline constexpr int kMaxReaction = 5;
enum class ResponderState {
  kUnspecified = 0,
  kOpen = 1,
  kCompleted = 2,
  kDeclined = 3,
  kExpired = 4
};

inline constexpr size_t kMaxBody = 4000;
inline constexpr size_t kMaxTags = 10;
inline constexpr size_t kMaxTagLength = 40;
inline constexpr size_t kMaxResponders = 50;
inline constexpr size_t kMaxQuestions = 20;
inline constexpr int kMinAnonymityFloor = 2;
inline constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;

// The principal of a request (person_id, hr_admin, service as every service
// has them), with what feedback adds.
struct Caller : org::Caller {
  // Constructors rather than aggregate initialization: GCC 12 at -O3 reports
  // false "maybe uninitialized" errors on copies of an aggregate with a base.
  Caller() = default;
  Caller(std::string person_id, bool hr_admin, bool service, std::string key)
      : org::Caller{std::move(person_id), hr_admin, service},
        key(std::move(key)) {}

  // Pseudonym of the principal (see Pseudonymizer): how authorship is kept.
  std::string key;
  // The caller's own `authorization` metadata: the other services are asked
  // about what the caller references with it, so that their rules decide
  // what the caller may reference. Never logged or stored.
  std::string authorization;
};

// The relationship of an author to a subject. `subject_chain` holds the
// subject's managers, `author_chain` the author's (nearest first).
Relationship DeriveRelationship(const std::string& author_id,
                                const std::string& subject_id,
                                absl::Span<const std::string> subject_chain,
                                absl::Span<const std::string> author_chain);

// What a new feedback must satisfy once its relationship is known; each
// violation names the field under `prefix` ("feedback").
absl::Status ValidateFeedback(const store::Feedback& f, const char* prefix);

// Tags: 1..40 characters of [a-z0-9_-], at most 10, no repeats.
void ValidateTags(const std::vector<std::string>& tags,
                  const std::string& field, status::FieldErrors* errors);

// Read: the author (by pseudonym), the subject, everyone for PUBLIC, and
// managers in the subject's chain unless SUBJECT_ONLY. Services read PUBLIC
// feedback and what they submitted. hr_admin gets nothing from the role.
bool CanRead(const Caller& caller, const store::Feedback& f,
             absl::Span<const std::string> subject_chain);

// Feedback whose author the anonymity floor protects.
bool Sensitive(const store::Feedback& f);

// The floor as configured: never below 2.
int EffectiveFloor(int configured);

// Why a group of `selected` distinct authors must be withheld, given that a
// narrowing left `excluded` distinct authors out of the whole it was cut from
// (0 when nothing was narrowed); nullopt when it may be shown. Both parts must
// reach the floor, or comparing the whole with the part would expose the
// authors that the narrowing cut off.
std::optional<std::string> FloorViolation(int selected, int excluded,
                                          int floor);

// Midnight UTC of the day of `micros`.
int64_t DayStart(int64_t micros);
// Days since 1970-01-01 of `micros` (UTC).
int64_t DayNumber(int64_t micros);
// Whole days (UTC) from the day of `from` to the day of `to`: the times of
// day do not count, so the answer is the same for any two instants of the
// same two days.
int64_t DaysBetween(int64_t from, int64_t to);
// "YYYY-MM-DD" of a day number, and back (INVALID_ARGUMENT naming `field`).
std::string DateOfDay(int64_t day);
absl::StatusOr<int64_t> ParseDay(const std::string& date,
                                 const std::string& field);

// The whole calendar months (UTC) covering [start_day, end_day]: the first
// day of each, in order, and the day after the last.
std::vector<int64_t> MonthStarts(int64_t start_day, int64_t end_day);

// A responder's state at `now`: an open part past the due time has expired.
ResponderState EffectiveState(const store::Responder& r, int64_t due_time,
                              int64_t now);
// The request's overall state: OPEN while any part is open; then COMPLETED
// when anyone answered, DECLINED when everyone declined, EXPIRED otherwise.
ResponderState OverallState(const store::Request& r, int64_t now);

// A request's shape: prompt, questions, responders (distinct, at most 50,
// never the requester), due in the future, and enough responders for
// anonymous answers.
absl::Status ValidateRequest(const store::Request& r, int64_t now, int floor);

// Median of `values` (0 when empty).
double Median(std::vector<double> values);

}  // namespace sightline::feedback
