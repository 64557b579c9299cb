#pragma once

// The feedback API's request messages as the service's records: each
// violation is added to `errors`, naming the request field. Pure functions,
// shared by the handler, its tests and the fuzz targets.

#include <cstdint>
#include <string>

#include "google/protobuf/timestamp.pb.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/feedback/feedback_store.pb.h"
#include "services/feedback/rules.h"
#include "sightline/feedback/v1/feedback_service.pb.h"

namespace sightline::feedback {

inline constexpr server::Shape kRequestShape{"feedbackRequests", "",
                                             "feedbackRequests/{request}"};
inline constexpr server::Shape kKeyResultShape{
    "goals", "keyResults", "goals/{goal}/keyResults/{key_result}"};

int64_t MicrosOf(const google::protobuf::Timestamp& t);
// Adds a violation naming `field` unless `t` is a valid time after 1970.
void CheckTimestamp(const google::protobuf::Timestamp& t,
                    const std::string& field, status::FieldErrors* errors);

// CreateFeedbackRequest.feedback; `author` gets the named author's id (empty
// when none was named).
store::Feedback FeedbackOf(const v1::Feedback& in, std::string* author,
                           status::FieldErrors* errors);
// CreateFeedbackRequestRequest.feedback_request.
store::Request RequestOf(const v1::FeedbackRequest& in,
                         status::FieldErrors* errors);

}  // namespace sightline::feedback
