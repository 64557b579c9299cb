// The feedback API's request messages as the service's records.

#include "services/feedback/convert.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace sightline::feedback {

using google::protobuf::util::TimeUtil;
using server::EnumOf;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::OptionalIdOf;

int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

void CheckTimestamp(const google::protobuf::Timestamp& t,
                    const std::string& field, status::FieldErrors* errors) {
  if (t.seconds() < 0 || t.seconds() > 253402300799 || t.nanos() < 0 ||
      t.nanos() > 999999999) {
    errors->Add(field, "must be a valid time after 1970");
  }
}

store::Feedback FeedbackOf(const v1::Feedback& in, std::string* author,
                           status::FieldErrors* errors) {
  store::Feedback f;
  *author = OptionalIdOf(in.author(), kPersonShape, "feedback.author", errors);
  f.set_subject_id(
      IdOf(in.subject(), kPersonShape, "feedback.subject", errors));
  f.set_kind(static_cast<int>(
      EnumOf<Kind>(in.kind(), v1::Kind_descriptor(), "feedback.kind", errors)));
  f.set_visibility(static_cast<int>(
      EnumOf<Visibility>(in.visibility(), v1::Visibility_descriptor(),
                         "feedback.visibility", errors)));
  f.set_body(in.body());
  f.set_goal_id(OptionalIdOf(in.goal(), kGoalShape, "feedback.goal", errors));
  if (!in.key_result().empty()) {
    std::vector<std::string> ids;
    if (server::ParseInto(in.key_result(), kKeyResultShape,
                          "feedback.key_result", &ids, errors)) {
      if (ids[0] != f.goal_id()) {
        errors->Add("feedback.key_result", "must be a key result of goal");
      }
      f.set_key_result(in.key_result());
    }
  }
  for (const auto& t : in.competencies()) f.add_competencies(t);
  for (const auto& t : in.values()) f.add_values(t);
  f.set_anonymous(in.anonymous());
  f.set_request_id(
      OptionalIdOf(in.request(), kRequestShape, "feedback.request", errors));
  f.set_external_name(in.external_author().name());
  f.set_external_org(in.external_author().organization());
  return f;
}

store::Request RequestOf(const v1::FeedbackRequest& in,
                         status::FieldErrors* errors) {
  store::Request r;
  r.set_subject_id(OptionalIdOf(in.subject(), kPersonShape,
                                "feedback_request.subject", errors));
  for (int i = 0; i < in.responders_size(); ++i) {
    r.add_responders()->set_person_id(IdOf(
        in.responders(i).person(), kPersonShape,
        absl::StrCat("feedback_request.responders[", i, "].person"), errors));
  }
  r.set_prompt(in.prompt());
  for (const auto& q : in.questions()) r.add_questions(q);
  if (!in.has_due_time()) {
    errors->Add("feedback_request.due_time", "required");
  } else {
    CheckTimestamp(in.due_time(), "feedback_request.due_time", errors);
    r.set_due_time(MicrosOf(in.due_time()));
  }
  r.set_allow_anonymous(in.allow_anonymous());
  return r;
}

}  // namespace sightline::feedback
