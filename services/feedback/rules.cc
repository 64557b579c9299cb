#include "services/feedback/rules.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace sightline::feedback {
namespace {

bool Contains(absl::Span<const std::string> list, const std::string& id) {
  return !id.empty() && std::find(list.begin(), list.end(), id) != list.end();
}

std::string At(const char* prefix, absl::string_view field) {
  return absl::StrCat(prefix, ".", field);
}

bool Printable(absl::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\n' && c != '\t' && c != '\r') return false;
  }
  return true;
}

void CheckText(absl::string_view text, size_t min, size_t max,
               const std::string& field, status::FieldErrors* errors) {
  if (text.size() < min || text.size() > max) {
    errors->Add(field, absl::StrCat("must be ", min, "..", max, " characters"));
  } else if (!Printable(text)) {
    errors->Add(field, "must not contain control characters");
  }
}

}  // namespace

Relationship DeriveRelationship(const std::string& author_id,
                                const std::string& subject_id,
                                absl::Span<const std::string> subject_chain,
                                absl::Span<const std::string> author_chain) {
  if (author_id.empty()) return Relationship::kCustomer;
  if (author_id == subject_id) return Relationship::kSelf;
  if (Contains(subject_chain, author_id)) return Relationship::kDownward;
  if (Contains(author_chain, subject_id)) return Relationship::kUpward;
  return Relationship::kPeer;
}

void ValidateTags(const std::vector<std::string>& tags,
                  const std::string& field, status::FieldErrors* errors) {
  if (tags.size() > kMaxTags) {
    errors->Add(field, absl::StrCat("at most ", kMaxTags, " tags"));
    return;
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& t = tags[i];
    bool ok = !t.empty() && t.size() <= kMaxTagLength;
    for (char c : t) {
      auto u = static_cast<unsigned char>(c);
      ok = ok && (absl::ascii_islower(u) || absl::ascii_isdigit(u) ||
                  c == '_' || c == '-');
    }
    std::string at = absl::StrCat(field, "[", i, "]");
    if (!ok) {
      errors->Add(at, "must be 1..40 characters of [a-z0-9_-]");
    } else if (!seen.insert(t).second) {
      errors->Add(at, "is repeated");
    }
  }
}

absl::Status ValidateFeedback(const store::Feedback& f, const char* prefix) {
  status::FieldErrors errors;
  auto rel = static_cast<Relationship>(f.relationship());
  auto kind = static_cast<Kind>(f.kind());
  auto vis = static_cast<Visibility>(f.visibility());
  CheckText(f.body(), 1, kMaxBody, At(prefix, "body"), &errors);
  if (kind == Kind::kUnspecified) {
    errors.Add(At(prefix, "kind"),
               "required: PRAISE, CONSTRUCTIVE or OBSERVATION");
  }
  if (vis == Visibility::kUnspecified) {
    errors.Add(At(prefix, "visibility"),
               "required: SUBJECT_ONLY, SUBJECT_AND_MANAGERS or PUBLIC");
  }
  if (vis == Visibility::kPublic && kind != Kind::kPraise) {
    errors.Add(At(prefix, "visibility"),
               "PUBLIC is for recognition: the kind must be PRAISE");
  }
  if (f.anonymous()) {
    if (rel != Relationship::kPeer && rel != Relationship::kUpward) {
      errors.Add(At(prefix, "anonymous"),
                 "only PEER and UPWARD feedback may be anonymous");
    } else if (vis == Visibility::kPublic) {
      errors.Add(At(prefix, "anonymous"),
                 "PUBLIC recognition is never anonymous");
    }
  }
  if (rel == Relationship::kCustomer) {
    CheckText(f.external_name(), 1, 100, At(prefix, "external_author.name"),
              &errors);
    CheckText(f.external_org(), 1, 100,
              At(prefix, "external_author.organization"), &errors);
  } else if (!f.external_name().empty() || !f.external_org().empty()) {
    errors.Add(At(prefix, "external_author"),
               "only CUSTOMER feedback, submitted by a service, names an "
               "external author");
  }
  if (!f.key_result().empty() && f.goal_id().empty()) {
    errors.Add(At(prefix, "goal"), "required with key_result");
  }
  ValidateTags({f.competencies().begin(), f.competencies().end()},
               At(prefix, "competencies"), &errors);
  ValidateTags({f.values().begin(), f.values().end()}, At(prefix, "values"),
               &errors);
  return errors.Build();
}

bool CanRead(const Caller& caller, const store::Feedback& f,
             absl::Span<const std::string> subject_chain) {
  auto vis = static_cast<Visibility>(f.visibility());
  if (vis == Visibility::kPublic) return true;
  if (!caller.key.empty() && caller.key == f.author_key()) return true;
  if (caller.person_id.empty()) return false;
  if (caller.person_id == f.subject_id()) return true;
  return vis == Visibility::kSubjectAndManagers &&
         Contains(subject_chain, caller.person_id);
}

bool Sensitive(const store::Feedback& f) {
  return f.anonymous() ||
         static_cast<Relationship>(f.relationship()) == Relationship::kUpward;
}

int EffectiveFloor(int configured) {
  return std::max(configured, kMinAnonymityFloor);
}

std::optional<std::string> FloorViolation(int selected, int excluded,
                                          int floor) {
  if (selected > 0 && selected < floor) {
    return absl::StrCat("fewer than ", floor,
                        " distinct authors contributed; shown once ", floor,
                        " have");
  }
  if (excluded > 0 && excluded < floor) {
    return absl::StrCat(
        "this narrowing leaves out fewer than ", floor,
        " distinct authors, whom comparing with the whole would expose");
  }
  return std::nullopt;
}

int64_t DayNumber(int64_t micros) {
  int64_t d = micros / kMicrosPerDay;
  if (micros < 0 && micros % kMicrosPerDay != 0) --d;
  return d;
}

int64_t DayStart(int64_t micros) { return DayNumber(micros) * kMicrosPerDay; }

int64_t DaysBetween(int64_t from, int64_t to) {
  return DayNumber(to) - DayNumber(from);
}

std::string DateOfDay(int64_t day) {
  absl::CivilDay d = absl::CivilDay(1970, 1, 1) + day;
  return absl::FormatCivilTime(d);
}

absl::StatusOr<int64_t> ParseDay(const std::string& date,
                                 const std::string& field) {
  absl::CivilDay d;
  if (date.size() != 10 || !absl::ParseCivilTime(date, &d) ||
      absl::FormatCivilTime(d) != date) {
    return status::InvalidField(field, "must be a date YYYY-MM-DD");
  }
  return d - absl::CivilDay(1970, 1, 1);
}

std::vector<int64_t> MonthStarts(int64_t start_day, int64_t end_day) {
  const absl::CivilDay epoch(1970, 1, 1);
  absl::CivilMonth m(epoch + start_day);
  absl::CivilMonth last(epoch + end_day);
  std::vector<int64_t> out;
  for (; m <= last + 1; ++m) out.push_back(absl::CivilDay(m) - epoch);
  return out;
}

ResponderState EffectiveState(const store::Responder& r, int64_t due_time,
                              int64_t now) {
  auto s = static_cast<ResponderState>(r.state());
  if (s == ResponderState::kOpen && now >= due_time)
    return ResponderState::kExpired;
  return s;
}

ResponderState OverallState(const store::Request& r, int64_t now) {
  bool completed = false, all_declined = !r.responders().empty();
  for (const auto& p : r.responders()) {
    auto s = EffectiveState(p, r.due_time(), now);
    if (s == ResponderState::kOpen) return ResponderState::kOpen;
    completed = completed || s == ResponderState::kCompleted;
    all_declined = all_declined && s == ResponderState::kDeclined;
  }
  if (completed) return ResponderState::kCompleted;
  return all_declined ? ResponderState::kDeclined : ResponderState::kExpired;
}

absl::Status ValidateRequest(const store::Request& r, int64_t now, int floor) {
  status::FieldErrors errors;
  CheckText(r.prompt(), 1, 2000, "feedback_request.prompt", &errors);
  if (static_cast<size_t>(r.questions_size()) > kMaxQuestions) {
    errors.Add("feedback_request.questions",
               absl::StrCat("at most ", kMaxQuestions, " questions"));
  }
  for (int i = 0; i < r.questions_size(); ++i) {
    CheckText(r.questions(i), 1, 500,
              absl::StrCat("feedback_request.questions[", i, "]"), &errors);
  }
  if (r.responders().empty() ||
      static_cast<size_t>(r.responders_size()) > kMaxResponders) {
    errors.Add("feedback_request.responders",
               absl::StrCat("must name 1..", kMaxResponders, " people"));
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < r.responders_size(); ++i) {
    const std::string& id = r.responders(i).person_id();
    std::string at = absl::StrCat("feedback_request.responders[", i, "]");
    if (id == r.requester_id() && r.review_id().empty()) {
      errors.Add(at, "the requester does not answer their own request");
    } else if (!id.empty() && !seen.insert(id).second) {
      errors.Add(at, "is repeated");
    }
  }
  if (r.due_time() <= now) {
    errors.Add("feedback_request.due_time", "must be in the future");
  }
  if (r.allow_anonymous() && r.responders_size() < floor) {
    errors.Add("feedback_request.allow_anonymous",
               absl::StrCat("anonymous answers need at least ", floor,
                            " responders (the anonymity floor)"));
  }
  return errors.Build();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace sightline::feedback
