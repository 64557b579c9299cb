#include "services/feedback/feedback_service.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/status/status.h"
#include "lib/storage/database.h"
#include "lib/storage/tokens.h"

namespace sightline::feedback {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& id) {
  return !id.empty() && std::find(list.begin(), list.end(), id) != list.end();
}

// Rows a List call reads to fill one page for a caller who may not read all.
constexpr int kMaxScan = 2000;
// Responses and feedback a summary or stats call reads at most.
constexpr int kMaxAggregate = 100000;

int64_t RandomOffset(int64_t range) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return static_cast<int64_t>(rng() % static_cast<uint64_t>(range));
}

// A request that does not exist, or that the author may not answer (not
// addressed to them): the same answer, so that it tells nothing of the request.
absl::Status MissingRequestReference() {
  return status::InvalidField("feedback.request", "does not exist");
}

absl::Status NotFoundFeedback(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("feedback/", id, " not found"));
}

}  // namespace

FeedbackService::FeedbackService(FeedbackRepository* repo, Org* org,
                                 GoalCheck* goals, FeedbackOptions options)
    : repo_(repo),
      org_(org),
      goals_(goals),
      options_(std::move(options)),
      floor_(EffectiveFloor(options_.anonymity_floor)) {}

absl::Status FeedbackService::Init() {
  auto key = repo_->PseudonymKey();
  if (!key.ok()) return key.status();
  key_ = *key;
  return absl::OkStatus();
}

std::string FeedbackService::Pseudonym(absl::string_view principal) const {
  return absl::BytesToHexString(
      storage::HmacSha256(key_, principal).substr(0, 16));
}

Caller FeedbackService::MakeCaller(const std::string& person_id,
                                   const std::string& subject, bool hr_admin,
                                   bool service) const {
  Caller c;
  c.person_id = person_id;
  c.hr_admin = hr_admin;
  c.service = service;
  c.key = person_id.empty() ? Pseudonym(absl::StrCat("principal:", subject))
                            : Pseudonym(absl::StrCat("person:", person_id));
  return c;
}

// ---- feedback

absl::StatusOr<store::Feedback> FeedbackService::CreateFeedback(
    const Caller& caller, store::Feedback f, const std::string& author_id,
    const Idempotency& idem) {
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  if (prior->has_value()) return repo_->GetFeedback(**prior);

  if (caller.service) {
    if (!author_id.empty()) {
      return absl::PermissionDeniedError(
          "feedback.author: a service submits CUSTOMER feedback only, with "
          "external_author");
    }
  } else if (caller.person_id.empty()) {
    return absl::PermissionDeniedError(
        "only people of the directory and services give feedback");
  } else if (!author_id.empty() && author_id != caller.person_id) {
    return absl::PermissionDeniedError(
        "feedback.author: nobody gives feedback as someone else");
  }
  std::string author = caller.service ? "" : caller.person_id;
  if (caller.service && f.external_name().empty()) {
    return status::InvalidField(
        "feedback.external_author.name",
        "required: a service submits CUSTOMER feedback only");
  }
  if (auto st = org_->ValidatePeople({f.subject_id()}, {"feedback.subject"});
      !st.ok()) {
    return st;
  }
  auto subject_chain = org_->FreshChain(f.subject_id());
  if (!subject_chain.ok()) return subject_chain.status();
  std::vector<std::string> author_chain;
  if (!author.empty()) {
    auto chain = org_->FreshChain(author);
    if (!chain.ok()) return chain.status();
    author_chain = std::move(*chain);
  }
  auto rel =
      DeriveRelationship(author, f.subject_id(), *subject_chain, author_chain);
  f.set_relationship(static_cast<int>(rel));
  f.set_author_id(f.anonymous() ? "" : author);
  f.set_author_key(caller.key);
  if (auto st = ValidateFeedback(f, "feedback"); !st.ok()) return st;
  if (f.anonymous() && rel == Relationship::kUpward) {
    // With fewer reports than the floor, "one of your reports" names them.
    int reports = static_cast<int>(
        org_->Reports(f.subject_id(), /*all_levels=*/true).size());
    if (reports < floor_) {
      return status::InvalidField(
          "feedback.anonymous",
          absl::StrCat("fewer than ", floor_,
                       " people report to the subject, so anonymity could "
                       "not hold; send it with your name, or as a peer "
                       "request"));
    }
  }
  if (!f.goal_id().empty()) {
    if (auto st =
            goals_->Check(caller, f.goal_id(), f.key_result(), "feedback.goal");
        !st.ok()) {
      return st;
    }
  }
  std::string responder;
  if (!f.request_id().empty()) {
    auto req = repo_->GetRequest(f.request_id());
    if (req.status().code() == absl::StatusCode::kNotFound) {
      return MissingRequestReference();
    }
    if (!req.ok()) return req.status();
    bool asked = false;
    for (const auto& p : req->responders())
      asked = asked || (!author.empty() && p.person_id() == author);
    if (!asked) {
      // Its requester knows it exists; anyone else learns nothing of it (not
      // even that it exists), as in DeclineFeedbackRequest.
      if (!author.empty() && author == req->requester_id()) {
        return absl::PermissionDeniedError(
            "feedback.request: only the people asked answer a request");
      }
      return MissingRequestReference();
    }
    if (req->subject_id() != f.subject_id()) {
      return status::InvalidField("feedback.subject",
                                  "must be the subject of the request");
    }
    if (f.anonymous() && !req->allow_anonymous()) {
      return status::InvalidField("feedback.anonymous",
                                  "the request does not allow anonymous "
                                  "answers");
    }
    responder = author;
  }
  int64_t now = storage::NowMicros();
  f.set_id(storage::NewId());
  int64_t rank = now;
  if (f.anonymous()) {
    f.set_create_time(DayStart(now));
    rank = DayStart(now) + RandomOffset(kMicrosPerDay);
  } else {
    f.set_create_time(now);
  }
  auto id = repo_->InsertFeedback(f, rank, idem, responder, now);
  if (!id.ok()) return id.status();
  if (*id != f.id()) return repo_->GetFeedback(*id);
  if (options_.on_created) options_.on_created(f.kind(), f.relationship());
  return f;
}

absl::StatusOr<store::Feedback> FeedbackService::Readable(
    const Caller& caller, const std::string& id) {
  auto f = repo_->GetFeedback(id);
  if (!f.ok()) {
    if (f.status().code() == absl::StatusCode::kNotFound)
      return NotFoundFeedback(id);
    return f.status();
  }
  if (!CanRead(caller, *f, org_->Chain(f->subject_id())))
    return NotFoundFeedback(id);
  return f;
}

absl::StatusOr<store::Feedback> FeedbackService::GetFeedback(
    const Caller& caller, const std::string& id) {
  return Readable(caller, id);
}

absl::StatusOr<std::vector<store::Feedback>> FeedbackService::ListFeedback(
    const Caller& caller, const ListSpec& spec, const Page& page,
    std::string* next) {
  FeedbackQuery q;
  q.kind = spec.kind;
  q.relationship = spec.relationship;
  if (spec.start_day.has_value()) q.from = *spec.start_day * kMicrosPerDay;
  if (spec.end_day.has_value()) q.to = (*spec.end_day + 1) * kMicrosPerDay;
  if (!spec.subject_id.empty()) {
    q.subject_id = spec.subject_id;
    if (caller.person_id != spec.subject_id) {
      if (Contains(org_->Chain(spec.subject_id), caller.person_id)) {
        q.exclude_subject_only = true;
      } else {
        q.public_only = true;
      }
      q.or_author_key = caller.key;
    }
  } else if (!spec.author_id.empty()) {
    if (spec.author_id == caller.person_id) {
      q.author_key = caller.key;
    } else {
      q.author_key = Pseudonym(absl::StrCat("person:", spec.author_id));
      q.exclude_anonymous = true;
    }
  } else {
    q.goal_id = spec.goal_id;
  }
  std::vector<store::Feedback> out;
  // Most pages are about one subject: their chain is looked up once.
  absl::flat_hash_map<std::string, std::vector<std::string>> chains;
  Page p = page;
  int scanned = 0;
  next->clear();
  while (static_cast<int>(out.size()) < page.limit && scanned < kMaxScan) {
    p.limit = std::min(page.limit, kMaxScan - scanned);
    std::vector<std::string> cursors;
    auto rows = repo_->ListFeedback(q, p, &cursors);
    if (!rows.ok()) return rows.status();
    size_t i = 0;
    for (; i < rows->size() && static_cast<int>(out.size()) < page.limit; ++i) {
      auto& f = (*rows)[i];
      auto chain = chains.find(f.subject_id());
      if (chain == chains.end()) {
        chain =
            chains.emplace(f.subject_id(), org_->Chain(f.subject_id())).first;
      }
      if (CanRead(caller, f, chain->second)) out.push_back(std::move(f));
    }
    scanned += static_cast<int>(i);
    // The rows read to the end, and nothing more to read: the last page.
    if (i == rows->size() && static_cast<int>(rows->size()) < p.limit) {
      next->clear();
      break;
    }
    // Next time after the last row looked at, not the last row read.
    *next = cursors[i - 1];
    p.after = *next;
  }
  return out;
}

absl::StatusOr<store::Feedback> FeedbackService::Acknowledge(
    const Caller& caller, const std::string& id, int reaction) {
  auto f = Readable(caller, id);
  if (!f.ok()) return f.status();
  if (caller.person_id != f->subject_id()) {
    return absl::PermissionDeniedError(
        "only the subject acknowledges feedback");
  }
  return repo_->Acknowledge(id, reaction, storage::NowMicros());
}

absl::StatusOr<ReactionCounts> FeedbackService::Reactions(
    const Caller& caller, const store::Feedback& f) {
  if (static_cast<Visibility>(f.visibility()) != Visibility::kPublic)
    return ReactionCounts{};
  return repo_->Reactions(f.id(), caller.person_id);
}

// ---- requests

RequestView FeedbackService::ViewOf(const Caller& caller,
                                    const store::Request& r,
                                    int64_t now) const {
  RequestView v;
  v.request = r;
  v.state = OverallState(r, now);
  v.request.clear_responders();
  bool requester = caller.person_id == r.requester_id();
  for (const auto& p : r.responders()) {
    auto s = EffectiveState(p, r.due_time(), now);
    ++v.asked;
    v.completed += s == ResponderState::kCompleted;
    v.declined += s == ResponderState::kDeclined;
    v.expired += s == ResponderState::kExpired;
    bool mine = p.person_id() == caller.person_id;
    if (!mine && !requester) continue;
    auto* out = v.request.add_responders();
    out->set_person_id(p.person_id());
    // With anonymous answers allowed, who answered stays with the counts.
    if (mine || !r.allow_anonymous()) {
      out->set_state(static_cast<int>(s));
      out->set_decline_reason(p.decline_reason());
    }
  }
  return v;
}

absl::StatusOr<RequestView> FeedbackService::CreateRequest(
    const Caller& caller, store::Request r, const Idempotency& idem) {
  if (caller.person_id.empty()) {
    return absl::PermissionDeniedError(
        "only people of the directory ask for feedback");
  }
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  int64_t now = storage::NowMicros();
  if (prior->has_value()) {
    auto stored = repo_->GetRequest(**prior);
    if (!stored.ok()) return stored.status();
    return ViewOf(caller, *stored, now);
  }
  r.set_requester_id(caller.person_id);
  if (r.subject_id().empty()) r.set_subject_id(caller.person_id);
  if (auto st = ValidateRequest(r, now, floor_); !st.ok()) return st;
  std::vector<std::string> ids = {r.subject_id()};
  std::vector<std::string> fields = {"feedback_request.subject"};
  for (int i = 0; i < r.responders_size(); ++i) {
    ids.push_back(r.responders(i).person_id());
    fields.push_back(absl::StrCat("feedback_request.responders[", i, "]"));
  }
  if (auto st = org_->ValidatePeople(ids, fields); !st.ok()) return st;
  if (r.subject_id() != caller.person_id) {
    auto chain = org_->FreshChain(r.subject_id());
    if (!chain.ok()) return chain.status();
    if (!Contains(*chain, caller.person_id)) {
      return absl::PermissionDeniedError(
          "feedback_request.subject: ask about yourself or one of your "
          "reports");
    }
  }
  r.set_id(storage::NewId());
  r.set_create_time(now);
  for (auto& p : *r.mutable_responders())
    p.set_state(static_cast<int>(ResponderState::kOpen));
  auto id = repo_->InsertRequest(r, nullptr, idem);
  if (!id.ok()) return id.status();
  if (*id != r.id()) {
    auto stored = repo_->GetRequest(*id);
    if (!stored.ok()) return stored.status();
    return ViewOf(caller, *stored, now);
  }
  return ViewOf(caller, r, now);
}

absl::StatusOr<std::vector<RequestView>> FeedbackService::ListRequests(
    const Caller& caller, bool inbox, bool include_closed, const Page& page,
    std::string* next) {
  next->clear();
  if (caller.person_id.empty()) return std::vector<RequestView>();
  std::string cursor;
  auto rows = repo_->ListRequests(caller.person_id, inbox, include_closed, page,
                                  &cursor);
  if (!rows.ok()) return rows.status();
  if (static_cast<int>(rows->size()) == page.limit) *next = cursor;
  int64_t now = storage::NowMicros();
  std::vector<RequestView> out;
  for (const auto& r : *rows) {
    RequestView v = ViewOf(caller, r, now);
    if (inbox && !include_closed) {
      bool open = false;
      for (const auto& p : r.responders()) {
        open = open ||
               (p.person_id() == caller.person_id &&
                EffectiveState(p, r.due_time(), now) == ResponderState::kOpen);
      }
      if (!open) continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<RequestView> FeedbackService::Decline(
    const Caller& caller, const std::string& id, const std::string& reason) {
  auto r = repo_->GetRequest(id);
  if (!r.ok()) return r.status();
  bool asked = false;
  for (const auto& p : r->responders())
    asked = asked || p.person_id() == caller.person_id;
  if (!asked || caller.person_id.empty()) {
    if (caller.person_id == r->requester_id() && !caller.person_id.empty()) {
      return absl::PermissionDeniedError(
          "only the people asked decline a request");
    }
    return absl::NotFoundError(
        absl::StrCat("feedbackRequests/", id, " not found"));
  }
  int64_t now = storage::NowMicros();
  auto updated = repo_->Decline(id, caller.person_id, reason, now);
  if (!updated.ok()) return updated.status();
  return ViewOf(caller, *updated, now);
}

// ---- 360 reviews

absl::StatusOr<store::Review> FeedbackService::CreateReview(
    const Caller& caller, store::Review review, const std::string& prompt,
    const Idempotency& idem) {
  if (caller.person_id.empty() && !caller.hr_admin) {
    return absl::PermissionDeniedError(
        "a 360 review is started by the subject's manager or hr_admin");
  }
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  if (prior->has_value()) return repo_->GetReview(**prior);
  status::FieldErrors errors;
  auto start = ParseDay(review.start_date(), "review.start_date");
  auto end = ParseDay(review.end_date(), "review.end_date");
  if (!start.ok()) errors.Add("review.start_date", "must be YYYY-MM-DD");
  if (!end.ok()) errors.Add("review.end_date", "must be YYYY-MM-DD");
  int64_t now = storage::NowMicros();
  if (start.ok() && end.ok() && *end < *start)
    errors.Add("review.end_date", "must not be before start_date");
  if (end.ok() && (*end + 1) * kMicrosPerDay <= now)
    errors.Add("review.end_date", "must not be in the past");
  if (prompt.empty() || prompt.size() > 2000)
    errors.Add("prompt", "must be 1..2000 characters");
  if (!errors.empty()) return errors.Build();
  if (auto st = org_->ValidatePeople({review.subject_id()}, {"review.subject"});
      !st.ok()) {
    return st;
  }
  auto chain = org_->FreshChain(review.subject_id());
  if (!chain.ok()) return chain.status();
  if (!caller.hr_admin && !Contains(*chain, caller.person_id)) {
    return absl::PermissionDeniedError(
        "review.subject: a 360 review is started by the subject's manager or "
        "hr_admin");
  }
  const std::string& subject = review.subject_id();
  std::string manager = chain->empty() ? "" : (*chain)[0];
  std::vector<std::string> peers,
      reports = org_->Reports(subject, /*all_levels=*/false);
  if (!manager.empty()) {
    for (const auto& p : org_->Reports(manager, /*all_levels=*/false)) {
      if (p != subject && peers.size() < 10) peers.push_back(p);
    }
  }
  store::Request r;
  r.set_id(storage::NewId());
  r.set_requester_id(caller.person_id);
  r.set_subject_id(subject);
  r.set_prompt(prompt);
  r.set_due_time((*end + 1) * kMicrosPerDay);
  r.set_create_time(now);
  r.set_allow_anonymous(static_cast<int>(peers.size() + reports.size()) >=
                        floor_);
  std::set<std::string> seen;
  auto add = [&](const std::string& id) {
    if (id.empty() || !seen.insert(id).second) return;
    auto* p = r.add_responders();
    p->set_person_id(id);
    p->set_state(static_cast<int>(ResponderState::kOpen));
  };
  add(manager);
  for (const auto& p : peers) add(p);
  for (const auto& p : reports) add(p);
  add(subject);
  review.set_id(storage::NewId());
  review.set_request_id(r.id());
  review.set_created_by(caller.person_id);
  review.set_create_time(now);
  r.set_review_id(review.id());
  auto id = repo_->InsertRequest(r, &review, idem);
  if (!id.ok()) return id.status();
  if (*id != review.id()) return repo_->GetReview(*id);
  return review;
}

absl::StatusOr<Summary> FeedbackService::ReviewSummary(const Caller& caller,
                                                       const std::string& id,
                                                       int relationship,
                                                       const std::string& tag) {
  auto review = repo_->GetReview(id);
  if (!review.ok()) return review.status();
  const std::string& subject = review->subject_id();
  bool is_subject = caller.person_id == subject;
  if (!is_subject && !caller.hr_admin &&
      !Contains(org_->Chain(subject), caller.person_id)) {
    return absl::NotFoundError(absl::StrCat("reviews/", id, " not found"));
  }
  FeedbackQuery q;
  q.request_id = review->request_id();
  q.exclude_subject_only = !is_subject;
  Page all;
  all.limit = kMaxAggregate;
  auto responses = repo_->ListFeedback(q, all, nullptr);
  if (!responses.ok()) return responses.status();

  auto has_tag = [&](const store::Feedback& f) {
    if (tag.empty()) return true;
    for (const auto& t : f.competencies())
      if (t == tag) return true;
    for (const auto& t : f.values())
      if (t == tag) return true;
    return false;
  };
  std::map<int, std::vector<store::Feedback>> by_rel;
  for (auto& f : *responses) by_rel[f.relationship()].push_back(std::move(f));
  Summary out;
  out.review = *review;
  for (auto& [rel, group] : by_rel) {
    if (relationship != 0 && rel != relationship) continue;
    SummaryGroup g;
    g.relationship = rel;
    bool sensitive = false;
    absl::flat_hash_set<std::string> in, all_authors;
    for (const auto& f : group) {
      sensitive = sensitive || Sensitive(f);
      all_authors.insert(f.author_key());
      if (has_tag(f)) in.insert(f.author_key());
    }
    int excluded = 0;
    for (const auto& a : all_authors) excluded += !in.contains(a);
    if (sensitive) {
      auto why = FloorViolation(static_cast<int>(in.size()), excluded, floor_);
      if (why.has_value()) {
        g.withheld_reason = *why;
        out.groups.push_back(std::move(g));
        continue;
      }
    }
    for (auto& f : group) {
      if (has_tag(f)) g.responses.push_back(std::move(f));
    }
    // Random ids: an order that does not follow submission.
    std::sort(g.responses.begin(), g.responses.end(),
              [](const auto& a, const auto& b) { return a.id() < b.id(); });
    out.groups.push_back(std::move(g));
  }
  return out;
}

// ---- recognition

bool FeedbackService::InTeamFeed(const store::Feedback& f,
                                 const std::string& team_id) const {
  if (team_id.empty()) return true;
  return Contains(org_->TeamMembers(team_id), f.subject_id());
}

absl::StatusOr<std::vector<store::Feedback>> FeedbackService::ListRecognition(
    const Caller& caller, const std::string& team_id, const Page& page,
    std::string* next) {
  (void)caller;  // everyone reads PUBLIC recognition
  FeedbackQuery q;
  q.public_only = true;
  if (!team_id.empty()) {
    if (!org_->TeamLead(team_id).has_value()) {
      return absl::NotFoundError(absl::StrCat("teams/", team_id, " not found"));
    }
    q.subject_in = org_->TeamMembers(team_id);
    if (q.subject_in.empty()) {
      next->clear();
      return std::vector<store::Feedback>();
    }
  }
  std::vector<std::string> cursors;
  auto rows = repo_->ListFeedback(q, page, &cursors);
  if (!rows.ok()) return rows.status();
  *next = static_cast<int>(rows->size()) == page.limit ? cursors.back() : "";
  return rows;
}

absl::StatusOr<store::Feedback> FeedbackService::React(const Caller& caller,
                                                       const std::string& id,
                                                       int reaction) {
  auto f = Readable(caller, id);
  if (!f.ok()) return f.status();
  if (static_cast<Visibility>(f->visibility()) != Visibility::kPublic) {
    return absl::FailedPreconditionError(
        "only PUBLIC recognition takes reactions");
  }
  if (caller.person_id.empty()) {
    return absl::PermissionDeniedError("only people react to recognition");
  }
  if (auto st = repo_->React(*f, caller.person_id, reaction); !st.ok())
    return st;
  return f;
}

// ---- 1:1s

std::string FeedbackService::OneOnOneEtag(const store::OneOnOne& m) {
  return storage::Etag(absl::StrCat("oneOnOnes/", m.id()), m.revision());
}

absl::Status FeedbackService::ValidateOneOnOne(const store::OneOnOne& m,
                                               const char* prefix) {
  status::FieldErrors errors;
  if (m.agenda_size() > 50)
    errors.Add(absl::StrCat(prefix, ".agenda_items"), "at most 50 items");
  for (int i = 0; i < m.agenda_size(); ++i) {
    size_t n = m.agenda(i).text().size();
    if (n == 0 || n > 1000) {
      errors.Add(absl::StrCat(prefix, ".agenda_items[", i, "].text"),
                 "must be 1..1000 characters");
    }
  }
  for (int i = 0; i < m.action_items_size(); ++i) {
    const auto& a = m.action_items(i);
    std::string at = absl::StrCat(prefix, ".action_items[", i, "]");
    if (a.text().empty() || a.text().size() > 1000)
      errors.Add(at + ".text", "must be 1..1000 characters");
    if (a.owner_id() != m.manager_id() && a.owner_id() != m.report_id())
      errors.Add(at + ".owner", "must be one of the two participants");
    if (!a.due_date().empty() && !ParseDay(a.due_date(), "").ok())
      errors.Add(at + ".due_date", "must be YYYY-MM-DD");
  }
  if (m.my_note().size() > 10000)
    errors.Add(absl::StrCat(prefix, ".my_private_note"),
               "at most 10000 characters");
  return errors.Build();
}

absl::StatusOr<store::OneOnOne> FeedbackService::CreateOneOnOne(
    const Caller& caller, store::OneOnOne m, const Idempotency& idem) {
  if (caller.person_id.empty()) {
    return absl::PermissionDeniedError("only people of the directory meet");
  }
  auto prior = repo_->FindIdempotent(idem);
  if (!prior.ok()) return prior.status();
  if (prior->has_value()) return repo_->GetOneOnOne(**prior, caller.person_id);
  if (m.manager_id() != caller.person_id && m.report_id() != caller.person_id) {
    return absl::PermissionDeniedError(
        "one_on_one: the caller must be the manager or the report");
  }
  if (m.scheduled_time() == 0) {
    return status::InvalidField("one_on_one.scheduled_time", "required");
  }
  if (auto st = ValidateOneOnOne(m, "one_on_one"); !st.ok()) return st;
  if (auto st =
          org_->ValidatePeople({m.manager_id(), m.report_id()},
                               {"one_on_one.manager", "one_on_one.report"});
      !st.ok()) {
    return st;
  }
  auto chain = org_->FreshChain(m.report_id());
  if (!chain.ok()) return chain.status();
  if (!Contains(*chain, m.manager_id())) {
    return status::InvalidField("one_on_one.manager",
                                "must be in the report's management chain");
  }
  int64_t now = storage::NowMicros();
  m.set_id(storage::NewId());
  m.set_revision(1);
  m.set_create_time(now);
  m.set_update_time(now);
  for (auto& a : *m.mutable_agenda())
    if (a.author_id().empty()) a.set_author_id(caller.person_id);
  for (auto& a : *m.mutable_action_items()) {
    a.set_id(storage::NewId());
    a.set_one_on_one_id(m.id());
    a.set_create_time(now);
    a.set_done(false);
  }
  auto id = repo_->InsertOneOnOne(m, idem);
  if (!id.ok()) return id.status();
  if (!m.my_note().empty()) {
    OneOnOneChange note;
    note.my_note = m.my_note();
    if (auto st = repo_->UpdateOneOnOne(*id, 1, caller.person_id, note, now);
        !st.ok()) {
      return st;
    }
  }
  return repo_->GetOneOnOne(*id, caller.person_id);
}

absl::StatusOr<store::OneOnOne> FeedbackService::Participating(
    const Caller& caller, const std::string& id) {
  auto m = repo_->GetOneOnOne(id, caller.person_id);
  if (!m.ok()) return m.status();
  if (caller.person_id.empty() || (m->manager_id() != caller.person_id &&
                                   m->report_id() != caller.person_id)) {
    return absl::NotFoundError(absl::StrCat("oneOnOnes/", id, " not found"));
  }
  return m;
}

absl::StatusOr<store::OneOnOne> FeedbackService::UpdateOneOnOne(
    const Caller& caller, const std::string& id, const std::string& etag,
    OneOnOneChange change) {
  auto m = Participating(caller, id);
  if (!m.ok()) return m.status();
  if (!etag.empty() && etag != OneOnOneEtag(*m)) {
    return absl::AbortedError(
        "one_on_one.etag: the meeting changed since it was read; read it "
        "again");
  }
  store::OneOnOne check = *m;
  check.clear_action_items();
  int64_t now = storage::NowMicros();
  if (change.agenda.has_value()) {
    check.clear_agenda();
    for (auto& a : *change.agenda) {
      // An item kept from the agenda keeps its author.
      for (const auto& old : m->agenda()) {
        if (old.text() == a.text()) a.set_author_id(old.author_id());
      }
      if (a.author_id().empty()) a.set_author_id(caller.person_id);
      *check.add_agenda() = a;
    }
  }
  if (change.my_note.has_value()) check.set_my_note(*change.my_note);
  for (auto& a : change.new_items) {
    a.set_id(storage::NewId());
    a.set_one_on_one_id(id);
    a.set_create_time(now);
    *check.add_action_items() = a;
  }
  for (const auto& a : change.edited_items) *check.add_action_items() = a;
  if (auto st = ValidateOneOnOne(check, "one_on_one"); !st.ok()) return st;
  if (auto st = repo_->UpdateOneOnOne(id, m->revision(), caller.person_id,
                                      change, now);
      !st.ok()) {
    return st;
  }
  return repo_->GetOneOnOne(id, caller.person_id);
}

absl::StatusOr<std::vector<store::OneOnOne>> FeedbackService::ListOneOnOnes(
    const Caller& caller, const std::string& with_id, const Page& page) {
  if (caller.person_id.empty()) return std::vector<store::OneOnOne>();
  return repo_->ListOneOnOnes(caller.person_id, with_id, page);
}

absl::StatusOr<store::OneOnOne> FeedbackService::CompleteActionItem(
    const Caller& caller, const std::string& id, const std::string& item) {
  auto m = Participating(caller, id);
  if (!m.ok()) return m.status();
  if (auto st = repo_->CompleteActionItem(id, item, storage::NowMicros());
      !st.ok()) {
    return st;
  }
  return repo_->GetOneOnOne(id, caller.person_id);
}

// ---- stats

absl::StatusOr<Stats> FeedbackService::GetStats(const Caller& caller,
                                                const std::string& person_id,
                                                const std::string& team_id,
                                                int64_t start_day,
                                                int64_t end_day) {
  std::vector<std::string> subjects;
  bool allowed = caller.hr_admin || caller.service;
  if (!person_id.empty()) {
    allowed = allowed || caller.person_id == person_id ||
              Contains(org_->Chain(person_id), caller.person_id);
    subjects = {person_id};
  } else {
    auto lead = org_->TeamLead(team_id);
    if (!lead.has_value()) {
      return absl::NotFoundError(absl::StrCat("teams/", team_id, " not found"));
    }
    allowed = allowed || (!lead->empty() &&
                          (caller.person_id == *lead ||
                           Contains(org_->Chain(*lead), caller.person_id)));
    subjects = org_->TeamMembers(team_id);
  }
  if (!allowed) {
    return absl::PermissionDeniedError(
        "stats are for the person, their managers, the team's lead and "
        "managers, hr_admin and services");
  }
  if (end_day < start_day) {
    return status::InvalidField("end_date", "must not be before start_date");
  }
  std::vector<int64_t> months = MonthStarts(start_day, end_day);
  Stats out;
  out.start_day = months.front();
  out.end_day = months.back() - 1;
  if (subjects.empty()) return out;
  int64_t from = months.front() * kMicrosPerDay;
  int64_t to = months.back() * kMicrosPerDay;
  FeedbackQuery q;
  q.subject_in = subjects;
  q.from = from;
  q.to = to;
  Page all;
  all.limit = kMaxAggregate;
  auto rows = repo_->ListFeedback(q, all, nullptr);
  if (!rows.ok()) return rows.status();
  // The floor holds per calendar month, so that no two periods differ by
  // fewer than the floor's authors.
  std::vector<absl::flat_hash_set<std::string>> sensitive(months.size() - 1);
  std::map<std::pair<int, int>, int> counts;
  for (const auto& f : *rows) {
    int64_t day = DayNumber(f.create_time());
    size_t m = std::upper_bound(months.begin(), months.end(), day) -
               months.begin() - 1;
    if (Sensitive(f) && m < sensitive.size())
      sensitive[m].insert(f.author_key());
    ++counts[{f.kind(), f.relationship()}];
  }
  for (size_t m = 0; m < sensitive.size(); ++m) {
    int n = static_cast<int>(sensitive[m].size());
    if (n > 0 && n < floor_) {
      out.withheld_reason =
          absl::StrCat("anonymous or upward feedback in the month from ",
                       DateOfDay(months[m]), " has fewer than ", floor_,
                       " distinct authors; shown once it has ", floor_);
      return out;
    }
  }
  for (const auto& [key, n] : counts) {
    out.counts.emplace_back(key.first, key.second, n);
    out.total += n;
  }
  auto requests = repo_->RequestsAbout(subjects, from, to);
  if (!requests.ok()) return requests.status();
  std::vector<double> waits;
  for (const auto& r : *requests) {
    for (const auto& p : r.responders()) {
      ++out.asked;
      if (static_cast<ResponderState>(p.state()) ==
          ResponderState::kCompleted) {
        ++out.answered;
        waits.push_back(static_cast<double>(
            DaysBetween(r.create_time(), p.respond_time())));
      }
    }
  }
  out.median_response_days = Median(std::move(waits));
  return out;
}

absl::StatusOr<std::pair<int64_t, int64_t>> FeedbackService::Census() {
  return repo_->OpenParts(storage::NowMicros());
}

}  // namespace sightline::feedback
