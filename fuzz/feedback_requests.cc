// The feedback service's create requests, read as the handler reads them
// (convert.h) and validated as the service validates them (rules.h).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/check.h"
#include "fuzz/inputs.pb.h"
#include "lib/server/api.h"
#include "services/feedback/convert.h"
#include "services/feedback/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sightline::feedback;
  using sightline::fuzz::CheckClientError;
  sightline::fuzz::FeedbackInput in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  sightline::status::FieldErrors errors;
  switch (in.request_case()) {
    case sightline::fuzz::FeedbackInput::kCreateFeedback: {
      const auto& req = in.create_feedback();
      CheckClientError(sightline::server::IdempotencyOf("CreateFeedback", "k1",
                                                        req, req.request_id())
                           .status());
      std::string author;
      store::Feedback f = FeedbackOf(req.feedback(), &author, &errors);
      CheckClientError(errors.Build());
      if (!errors.empty()) break;
      f.set_author_id(author.empty() ? "p1" : author);
      f.set_relationship(in.relationship());
      CheckClientError(ValidateFeedback(f, "feedback"));
      std::vector<std::string> tags(f.competencies().begin(),
                                    f.competencies().end());
      ValidateTags(tags, "feedback.competencies", &errors);
      CheckClientError(errors.Build());
      break;
    }
    case sightline::fuzz::FeedbackInput::kCreateFeedbackRequest: {
      const auto& req = in.create_feedback_request();
      store::Request r = RequestOf(req.feedback_request(), &errors);
      CheckClientError(errors.Build());
      if (!errors.empty()) break;
      r.set_requester_id("p1");
      CheckClientError(ValidateRequest(r, in.now_micros(),
                                       EffectiveFloor(in.anonymity_floor())));
      break;
    }
    case sightline::fuzz::FeedbackInput::REQUEST_NOT_SET:
      break;
  }
  return 0;
}
