// Feedback and feedback requests as the feedback service validates them once
// the handler has read the API message (rules.h).

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/check.h"
#include "fuzz/inputs.pb.h"
#include "services/feedback/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sightline::feedback;
  using sightline::fuzz::CheckClientError;
  sightline::fuzz::FeedbackInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  switch (in.request_case()) {
    case sightline::fuzz::FeedbackInput::kFeedback: {
      CheckClientError(ValidateFeedback(in.feedback(), "feedback"));
      sightline::status::FieldErrors errors;
      std::vector<std::string> tags(in.feedback().competencies().begin(),
                                    in.feedback().competencies().end());
      ValidateTags(tags, "feedback.competencies", &errors);
      CheckClientError(errors.Build());
      break;
    }
    case sightline::fuzz::FeedbackInput::kFeedbackRequest:
      CheckClientError(ValidateRequest(in.feedback_request(), in.now_micros(),
                                       EffectiveFloor(in.anonymity_floor())));
      break;
    case sightline::fuzz::FeedbackInput::REQUEST_NOT_SET:
      break;
  }
  return 0;
}
