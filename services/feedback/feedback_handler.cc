#include "services/feedback/feedback_handler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/server/api.h"
#include "lib/status/status.h"

namespace sightline::feedback {
namespace {

using google::protobuf::util::TimeUtil;
using server::EnumOf;
using server::IdOf;
using server::kGoalShape;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;
using server::Shape;

constexpr Shape kFeedbackShape{"feedback", "", "feedback/{feedback}"};
constexpr Shape kReviewShape{"reviews", "", "reviews/{review}"};
constexpr Shape kOneOnOneShape{"oneOnOnes", "", "oneOnOnes/{one_on_one}"};
constexpr Shape kActionItemShape{
    "oneOnOnes", "actionItems",
    "oneOnOnes/{one_on_one}/actionItems/{action_item}"};
constexpr int kDefaultListPage = 50;

std::string Person(const std::string& id) {
  return id.empty() ? "" : absl::StrCat("people/", id);
}

google::protobuf::Timestamp Micros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

void ToProto(const RequestView& v, v1::FeedbackRequest* out) {
  const store::Request& r = v.request;
  out->set_name(absl::StrCat("feedbackRequests/", r.id()));
  out->set_requester(Person(r.requester_id()));
  out->set_subject(Person(r.subject_id()));
  for (const auto& p : r.responders()) {
    auto* o = out->add_responders();
    o->set_person(Person(p.person_id()));
    o->set_state(static_cast<v1::FeedbackRequest::State>(p.state()));
    o->set_decline_reason(p.decline_reason());
  }
  out->set_prompt(r.prompt());
  for (const auto& q : r.questions()) out->add_questions(q);
  *out->mutable_due_time() = Micros(r.due_time());
  out->set_allow_anonymous(r.allow_anonymous());
  out->set_state(static_cast<v1::FeedbackRequest::State>(v.state));
  out->set_asked_count(v.asked);
  out->set_completed_count(v.completed);
  out->set_declined_count(v.declined);
  out->set_expired_count(v.expired);
  *out->mutable_create_time() = Micros(r.create_time());
  if (!r.review_id().empty())
    out->set_review(absl::StrCat("reviews/", r.review_id()));
}

void ToProto(const store::Review& r, v1::Review360* out) {
  out->set_name(absl::StrCat("reviews/", r.id()));
  out->set_subject(Person(r.subject_id()));
  out->set_start_date(r.start_date());
  out->set_end_date(r.end_date());
  out->set_feedback_request(absl::StrCat("feedbackRequests/", r.request_id()));
  out->set_created_by(Person(r.created_by()));
  *out->mutable_create_time() = Micros(r.create_time());
}

void ToProto(const store::OneOnOne& m, v1::OneOnOne* out) {
  std::string name = absl::StrCat("oneOnOnes/", m.id());
  out->set_name(name);
  out->set_manager(Person(m.manager_id()));
  out->set_report(Person(m.report_id()));
  *out->mutable_scheduled_time() = Micros(m.scheduled_time());
  for (const auto& a : m.agenda()) {
    auto* o = out->add_agenda_items();
    o->set_text(a.text());
    o->set_author(Person(a.author_id()));
  }
  out->set_my_private_note(m.my_note());
  for (const auto& a : m.action_items()) {
    auto* o = out->add_action_items();
    o->set_name(absl::StrCat(name, "/actionItems/", a.id()));
    o->set_text(a.text());
    o->set_owner(Person(a.owner_id()));
    o->set_due_date(a.due_date());
    o->set_done(a.done());
    o->set_carried_over(a.one_on_one_id() != m.id());
  }
  out->set_etag(FeedbackService::OneOnOneEtag(m));
  *out->mutable_create_time() = Micros(m.create_time());
  *out->mutable_update_time() = Micros(m.update_time());
}

store::ActionItem ActionItemOf(const v1::ActionItem& in, const std::string& at,
                               status::FieldErrors* errors) {
  store::ActionItem a;
  a.set_text(in.text());
  a.set_owner_id(IdOf(in.owner(), kPersonShape, at + ".owner", errors));
  a.set_due_date(in.due_date());
  return a;
}

std::vector<store::AgendaItem> AgendaOf(const v1::OneOnOne& in) {
  std::vector<store::AgendaItem> out;
  for (const auto& a : in.agenda_items()) {
    store::AgendaItem item;
    item.set_text(a.text());
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

FeedbackHandler::FeedbackHandler(server::Runtime* runtime,
                                 FeedbackService* service, Org* org,
                                 server::ChangeStreamDeps watch)
    : runtime_(runtime),
      service_(service),
      org_(org),
      watch_(std::move(watch)) {}

absl::StatusOr<Caller> FeedbackHandler::CallerOf(
    const server::CallContext& call, bool fresh) {
  const auto& p = call.principal;
  auto person = org_->ResolvePerson(p, fresh);
  if (!person.ok()) return person.status();
  Caller caller = service_->MakeCaller(
      *person, p.subject, p.HasRole(auth::Role::kHrAdmin), p.IsService());
  const auto& md = call.grpc->client_metadata();
  if (auto it = md.find("authorization"); it != md.end())
    caller.authorization.assign(it->second.data(), it->second.size());
  return caller;
}

absl::Status FeedbackHandler::RenderFeedback(const Caller& caller,
                                             const store::Feedback& f,
                                             v1::Feedback* out) {
  out->set_name(absl::StrCat("feedback/", f.id()));
  // Anonymous feedback never carries its author, not even to the author.
  if (!f.anonymous()) out->set_author(Person(f.author_id()));
  if (!f.external_name().empty()) {
    out->mutable_external_author()->set_name(f.external_name());
    out->mutable_external_author()->set_organization(f.external_org());
  }
  out->set_subject(Person(f.subject_id()));
  out->set_relationship(static_cast<v1::Relationship>(f.relationship()));
  out->set_kind(static_cast<v1::Kind>(f.kind()));
  out->set_body(f.body());
  if (!f.goal_id().empty()) out->set_goal(absl::StrCat("goals/", f.goal_id()));
  out->set_key_result(f.key_result());
  for (const auto& t : f.competencies()) out->add_competencies(t);
  for (const auto& t : f.values()) out->add_values(t);
  out->set_visibility(static_cast<v1::Visibility>(f.visibility()));
  out->set_anonymous(f.anonymous());
  if (!f.request_id().empty())
    out->set_request(absl::StrCat("feedbackRequests/", f.request_id()));
  int64_t shown = f.anonymous() ? DayStart(f.create_time()) : f.create_time();
  *out->mutable_create_time() = Micros(shown);
  out->set_create_date(DateOfDay(DayNumber(f.create_time())));
  if (f.ack_time() != 0) {
    *out->mutable_acknowledgement()->mutable_time() = Micros(f.ack_time());
    out->mutable_acknowledgement()->set_reaction(
        static_cast<v1::Reaction>(f.ack_reaction()));
  }
  auto reactions = service_->Reactions(caller, f);
  if (!reactions.ok()) return reactions.status();
  for (const auto& [r, n] : reactions->counts) {
    auto* c = out->add_reactions();
    c->set_reaction(static_cast<v1::Reaction>(r));
    c->set_count(n);
  }
  out->set_my_reaction(static_cast<v1::Reaction>(reactions->mine));
  return absl::OkStatus();
}

// ---- feedback

grpc::ServerUnaryReactor* FeedbackHandler::CreateFeedback(
    grpc::CallbackServerContext* ctx, const v1::CreateFeedbackRequest* req,
    v1::Feedback* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        // Whether or not this feedback is anonymous, its author stays out of
        // the log.
        call.RedactPrincipal();
        status::FieldErrors errors;
        std::string author;
        store::Feedback f = FeedbackOf(req->feedback(), &author, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        // Keyed by the caller's pseudonym, never by who they are.
        auto idem = server::IdempotencyOf("CreateFeedback", caller->key, *req,
                                          req->request_id());
        if (!idem.ok()) return idem.status();
        auto made =
            service_->CreateFeedback(*caller, std::move(f), author, *idem);
        if (!made.ok()) return made.status();
        return RenderFeedback(*caller, *made, resp);
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::GetFeedback(
    grpc::CallbackServerContext* ctx, const v1::GetFeedbackRequest* req,
    v1::Feedback* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = server::ParseOne(req->name(), kFeedbackShape, "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto f = service_->GetFeedback(*caller, *id);
        if (!f.ok()) return f.status();
        return RenderFeedback(*caller, *f, resp);
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::ListFeedback(
    grpc::CallbackServerContext* ctx, const v1::ListFeedbackRequest* req,
    v1::ListFeedbackResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        ListSpec spec;
        int set = !req->subject().empty() + !req->author().empty() +
                  !req->goal().empty();
        if (set != 1) {
          errors.Add("subject", "set exactly one of subject, author, goal");
        }
        spec.subject_id =
            OptionalIdOf(req->subject(), kPersonShape, "subject", &errors);
        spec.author_id =
            OptionalIdOf(req->author(), kPersonShape, "author", &errors);
        spec.goal_id = OptionalIdOf(req->goal(), kGoalShape, "goal", &errors);
        spec.kind = static_cast<int>(
            EnumOf<Kind>(req->kind(), v1::Kind_descriptor(), "kind", &errors));
        spec.relationship = static_cast<int>(EnumOf<Relationship>(
            req->relationship(), v1::Relationship_descriptor(), "relationship",
            &errors));
        for (auto [date, field, out] :
             {std::tuple{&req->start_date(), "start_date", &spec.start_day},
              std::tuple{&req->end_date(), "end_date", &spec.end_day}}) {
          if (date->empty()) continue;
          auto day = ParseDay(*date, field);
          if (!day.ok()) {
            errors.Add(field, "must be a date YYYY-MM-DD");
          } else {
            *out = *day;
          }
        }
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(req->subject(), "|", req->author(), "|", req->goal(),
                         "|", spec.kind, "|", spec.relationship, "|",
                         req->start_date(), "|", req->end_date());
        auto paging = server::StartPage(
            runtime_->tokens(), "ListFeedback", filters, req->page_size(),
            req->page_token(), false, kDefaultListPage);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto rows = service_->ListFeedback(*caller, spec, paging->page, &next);
        if (!rows.ok()) return rows.status();
        for (const auto& f : *rows) {
          if (auto st = RenderFeedback(*caller, f, resp->add_feedback());
              !st.ok())
            return st;
        }
        resp->set_next_page_token(server::TokenFor(
            runtime_->tokens(), "ListFeedback", filters, next));
        return absl::OkStatus();
      });
}

template <typename Request, typename Action>
grpc::ServerUnaryReactor* FeedbackHandler::WithReaction(
    grpc::CallbackServerContext* ctx, const Request* req, v1::Feedback* resp,
    Action action) {
  return runtime_->Unary(
      ctx,
      [this, req, resp,
       action](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string id = IdOf(req->name(), kFeedbackShape, "name", &errors);
        int reaction = static_cast<int>(EnumOf<int>(
            req->reaction(), v1::Reaction_descriptor(), "reaction", &errors));
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        absl::StatusOr<store::Feedback> f = action(*caller, id, reaction);
        if (!f.ok()) return f.status();
        return RenderFeedback(*caller, *f, resp);
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::AcknowledgeFeedback(
    grpc::CallbackServerContext* ctx, const v1::AcknowledgeFeedbackRequest* req,
    v1::Feedback* resp) {
  return WithReaction(ctx, req, resp,
                      [this](const Caller& c, const std::string& id, int r) {
                        return service_->Acknowledge(c, id, r);
                      });
}

// ---- requests

grpc::ServerUnaryReactor* FeedbackHandler::CreateFeedbackRequest(
    grpc::CallbackServerContext* ctx,
    const v1::CreateFeedbackRequestRequest* req, v1::FeedbackRequest* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        store::Request r = RequestOf(req->feedback_request(), &errors);
        if (!errors.empty()) return errors.Build();
        auto idem = server::IdempotencyOf("CreateFeedbackRequest",
                                          call.principal.subject, *req,
                                          req->request_id());
        if (!idem.ok()) return idem.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateRequest(*caller, std::move(r), *idem);
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::ListFeedbackRequests(
    grpc::CallbackServerContext* ctx,
    const v1::ListFeedbackRequestsRequest* req,
    v1::ListFeedbackRequestsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        if (req->box() != v1::ListFeedbackRequestsRequest::INBOX &&
            req->box() != v1::ListFeedbackRequestsRequest::SENT) {
          return status::InvalidField("box", "must be INBOX or SENT");
        }
        bool inbox = req->box() == v1::ListFeedbackRequestsRequest::INBOX;
        std::string filters =
            absl::StrCat(req->box(), "|", req->include_closed());
        auto paging = server::StartPage(
            runtime_->tokens(), "ListFeedbackRequests", filters,
            req->page_size(), req->page_token(), false, kDefaultListPage);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto rows = service_->ListRequests(
            *caller, inbox, req->include_closed(), paging->page, &next);
        if (!rows.ok()) return rows.status();
        for (const auto& v : *rows) ToProto(v, resp->add_feedback_requests());
        resp->set_next_page_token(server::TokenFor(
            runtime_->tokens(), "ListFeedbackRequests", filters, next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::DeclineFeedbackRequest(
    grpc::CallbackServerContext* ctx,
    const v1::DeclineFeedbackRequestRequest* req, v1::FeedbackRequest* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = server::ParseOne(req->name(), kRequestShape, "name");
        if (!id.ok()) return id.status();
        if (req->reason().size() > 1000)
          return status::InvalidField("reason", "at most 1000 characters");
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto v = service_->Decline(*caller, *id, req->reason());
        if (!v.ok()) return v.status();
        ToProto(*v, resp);
        return absl::OkStatus();
      });
}

// ---- 360

grpc::ServerUnaryReactor* FeedbackHandler::CreateReview360(
    grpc::CallbackServerContext* ctx, const v1::CreateReview360Request* req,
    v1::Review360* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        store::Review r;
        r.set_subject_id(IdOf(req->review().subject(), kPersonShape,
                              "review.subject", &errors));
        r.set_start_date(req->review().start_date());
        r.set_end_date(req->review().end_date());
        if (!errors.empty()) return errors.Build();
        auto idem = server::IdempotencyOf(
            "CreateReview360", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made =
            service_->CreateReview(*caller, std::move(r), req->prompt(), *idem);
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::GetReview360Summary(
    grpc::CallbackServerContext* ctx, const v1::GetReview360SummaryRequest* req,
    v1::Review360Summary* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string id = IdOf(req->name(), kReviewShape, "name", &errors);
        int rel = static_cast<int>(EnumOf<Relationship>(
            req->relationship(), v1::Relationship_descriptor(), "relationship",
            &errors));
        if (!req->tag().empty()) {
          ValidateTags({req->tag()}, "tag", &errors);
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto summary = service_->ReviewSummary(*caller, id, rel, req->tag());
        if (!summary.ok()) return summary.status();
        resp->set_review(req->name());
        resp->set_subject(Person(summary->review.subject_id()));
        resp->set_anonymity_floor(service_->floor());
        for (const auto& g : summary->groups) {
          auto* out = resp->add_groups();
          out->set_relationship(static_cast<v1::Relationship>(g.relationship));
          if (!g.withheld_reason.empty()) {
            out->set_withheld(true);
            out->set_withheld_reason(g.withheld_reason);
            continue;
          }
          out->set_response_count(static_cast<int>(g.responses.size()));
          for (const auto& f : g.responses) {
            auto* r = out->add_responses();
            r->set_kind(static_cast<v1::Kind>(f.kind()));
            r->set_body(f.body());
            r->set_create_date(DateOfDay(DayNumber(f.create_time())));
            for (const auto& t : f.competencies()) r->add_competencies(t);
            for (const auto& t : f.values()) r->add_values(t);
          }
        }
        return absl::OkStatus();
      });
}

// ---- recognition

grpc::ServerUnaryReactor* FeedbackHandler::ListRecognition(
    grpc::CallbackServerContext* ctx, const v1::ListRecognitionRequest* req,
    v1::ListRecognitionResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto team = req->team().empty()
                        ? absl::StatusOr<std::string>("")
                        : server::ParseOne(req->team(), kTeamShape, "team");
        if (!team.ok()) return team.status();
        auto paging = server::StartPage(
            runtime_->tokens(), "ListRecognition", *team, req->page_size(),
            req->page_token(), false, kDefaultListPage);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto rows =
            service_->ListRecognition(*caller, *team, paging->page, &next);
        if (!rows.ok()) return rows.status();
        for (const auto& f : *rows) {
          if (auto st = RenderFeedback(*caller, f, resp->add_recognition());
              !st.ok()) {
            return st;
          }
        }
        resp->set_next_page_token(server::TokenFor(
            runtime_->tokens(), "ListRecognition", *team, next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::ReactToRecognition(
    grpc::CallbackServerContext* ctx, const v1::ReactToRecognitionRequest* req,
    v1::Feedback* resp) {
  return WithReaction(ctx, req, resp,
                      [this](const Caller& c, const std::string& id, int r) {
                        return service_->React(c, id, r);
                      });
}

grpc::ServerWriteReactor<v1::WatchRecognitionResponse>*
FeedbackHandler::WatchRecognition(grpc::CallbackServerContext* ctx,
                                  const v1::WatchRecognitionRequest* req) {
  using Failed = server::FailedWriter<v1::WatchRecognitionResponse>;
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  std::string team;
  if (!req->team().empty()) {
    auto id = server::ParseOne(req->team(), kTeamShape, "team");
    if (!id.ok()) return new Failed(status::ToGrpc(id.status()));
    team = *id;
  }
  Caller caller = service_->MakeCaller("", principal->subject, false, false);
  auto render = [this, team, caller](const storage::ChangeRow& row,
                                     const std::string& token)
      -> absl::StatusOr<std::optional<v1::WatchRecognitionResponse>> {
    if (row.entity != kRecognitionEntity) return std::nullopt;
    store::Feedback f;
    if (!f.ParseFromString(row.payload)) {
      return absl::DataLossError("a recognition event does not decode");
    }
    if (!service_->InTeamFeed(f, team)) return std::nullopt;
    v1::WatchRecognitionResponse out;
    out.set_change_type(row.kind == kRecognitionReacted
                            ? v1::WatchRecognitionResponse::REACTED
                            : v1::WatchRecognitionResponse::CREATED);
    if (auto st = RenderFeedback(caller, f, out.mutable_recognition());
        !st.ok()) {
      return st;
    }
    out.set_resume_token(token);
    return out;
  };
  return server::ChangeStream<v1::WatchRecognitionResponse>::Start(
      watch_, ctx, req->resume_token(), render);
}

// ---- 1:1s

grpc::ServerUnaryReactor* FeedbackHandler::CreateOneOnOne(
    grpc::CallbackServerContext* ctx, const v1::CreateOneOnOneRequest* req,
    v1::OneOnOne* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        const auto& in = req->one_on_one();
        store::OneOnOne m;
        m.set_manager_id(
            IdOf(in.manager(), kPersonShape, "one_on_one.manager", &errors));
        m.set_report_id(
            IdOf(in.report(), kPersonShape, "one_on_one.report", &errors));
        if (in.has_scheduled_time()) {
          CheckTimestamp(in.scheduled_time(), "one_on_one.scheduled_time",
                         &errors);
          m.set_scheduled_time(MicrosOf(in.scheduled_time()));
        }
        for (auto& a : AgendaOf(in)) *m.add_agenda() = std::move(a);
        m.set_my_note(in.my_private_note());
        for (int i = 0; i < in.action_items_size(); ++i) {
          *m.add_action_items() = ActionItemOf(
              in.action_items(i),
              absl::StrCat("one_on_one.action_items[", i, "]"), &errors);
        }
        if (!errors.empty()) return errors.Build();
        auto idem = server::IdempotencyOf(
            "CreateOneOnOne", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto caller = CallerOf(call, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateOneOnOne(*caller, std::move(m), *idem);
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::UpdateOneOnOne(
    grpc::CallbackServerContext* ctx, const v1::UpdateOneOnOneRequest* req,
    v1::OneOnOne* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        const auto& in = req->one_on_one();
        std::string id =
            IdOf(in.name(), kOneOnOneShape, "one_on_one.name", &errors);
        if (req->update_mask().paths().empty())
          errors.Add("update_mask", "name at least one field");
        OneOnOneChange change;
        for (const auto& path : req->update_mask().paths()) {
          if (path == "scheduled_time") {
            CheckTimestamp(in.scheduled_time(), "one_on_one.scheduled_time",
                           &errors);
            change.scheduled_time = MicrosOf(in.scheduled_time());
          } else if (path == "agenda_items") {
            change.agenda = AgendaOf(in);
          } else if (path == "my_private_note") {
            change.my_note = in.my_private_note();
          } else if (path == "action_items") {
            for (int i = 0; i < in.action_items_size(); ++i) {
              const auto& a = in.action_items(i);
              std::string at = absl::StrCat("one_on_one.action_items[", i, "]");
              store::ActionItem item = ActionItemOf(a, at, &errors);
              if (a.name().empty()) {
                change.new_items.push_back(std::move(item));
                continue;
              }
              std::vector<std::string> ids;
              if (server::ParseInto(a.name(), kActionItemShape, at + ".name",
                                    &ids, &errors)) {
                if (ids[0] != id) {
                  errors.Add(at + ".name", "must be an item of this meeting");
                }
                item.set_id(ids[1]);
                change.edited_items.push_back(std::move(item));
              }
            }
          } else {
            errors.Add("update_mask",
                       absl::StrCat("cannot update \"", path,
                                    "\"; updatable: scheduled_time, "
                                    "agenda_items, my_private_note, "
                                    "action_items"));
          }
        }
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto m =
            service_->UpdateOneOnOne(*caller, id, in.etag(), std::move(change));
        if (!m.ok()) return m.status();
        ToProto(*m, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::ListOneOnOnes(
    grpc::CallbackServerContext* ctx, const v1::ListOneOnOnesRequest* req,
    v1::ListOneOnOnesResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string with =
            OptionalIdOf(req->with(), kPersonShape, "with", &errors);
        if (!errors.empty()) return errors.Build();
        auto paging =
            server::StartPage(runtime_->tokens(), "ListOneOnOnes", with,
                              req->page_size(), req->page_token(), true, 20);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto rows = service_->ListOneOnOnes(*caller, with, paging->page);
        if (!rows.ok()) return rows.status();
        resp->set_next_page_token(server::FinishPage(
            runtime_->tokens(), "ListOneOnOnes", with, *paging, &*rows,
            [](const store::OneOnOne& m) {
              return absl::StrCat(m.scheduled_time(), "/", m.id());
            }));
        for (const auto& m : *rows) ToProto(m, resp->add_one_on_ones());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FeedbackHandler::CompleteActionItem(
    grpc::CallbackServerContext* ctx, const v1::CompleteActionItemRequest* req,
    v1::OneOnOne* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::vector<std::string> ids;
        server::ParseInto(req->name(), kActionItemShape, "name", &ids, &errors);
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto m = service_->CompleteActionItem(*caller, ids[0], ids[1]);
        if (!m.ok()) return m.status();
        ToProto(*m, resp);
        return absl::OkStatus();
      });
}

// ---- stats

grpc::ServerUnaryReactor* FeedbackHandler::GetFeedbackStats(
    grpc::CallbackServerContext* ctx, const v1::GetFeedbackStatsRequest* req,
    v1::FeedbackStats* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::string person, team;
        if (req->scope_case() == v1::GetFeedbackStatsRequest::kPerson) {
          person = IdOf(req->person(), kPersonShape, "person", &errors);
        } else if (req->scope_case() == v1::GetFeedbackStatsRequest::kTeam) {
          team = IdOf(req->team(), kTeamShape, "team", &errors);
        } else {
          errors.Add("scope", "set person or team");
        }
        auto start = ParseDay(req->start_date(), "start_date");
        auto end = ParseDay(req->end_date(), "end_date");
        if (!start.ok()) errors.Add("start_date", "must be a date YYYY-MM-DD");
        if (!end.ok()) errors.Add("end_date", "must be a date YYYY-MM-DD");
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto stats = service_->GetStats(*caller, person, team, *start, *end);
        if (!stats.ok()) return stats.status();
        resp->set_start_date(DateOfDay(stats->start_day));
        resp->set_end_date(DateOfDay(stats->end_day));
        resp->set_anonymity_floor(service_->floor());
        if (!stats->withheld_reason.empty()) {
          resp->set_withheld(true);
          resp->set_withheld_reason(stats->withheld_reason);
          return absl::OkStatus();
        }
        for (const auto& [kind, rel, n] : stats->counts) {
          auto* c = resp->add_counts();
          c->set_kind(static_cast<v1::Kind>(kind));
          c->set_relationship(static_cast<v1::Relationship>(rel));
          c->set_count(n);
        }
        resp->set_total(stats->total);
        resp->set_requests_asked(stats->asked);
        resp->set_requests_answered(stats->answered);
        resp->set_response_rate(stats->asked == 0
                                    ? 0
                                    : static_cast<double>(stats->answered) /
                                          stats->asked);
        resp->set_median_response_days(stats->median_response_days);
        return absl::OkStatus();
      });
}

}  // namespace sightline::feedback
