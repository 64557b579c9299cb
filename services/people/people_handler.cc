#include "services/people/people_handler.h"

#include <malloc.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/idempotency.h"
#include "lib/storage/tokens.h"

namespace sightline::people {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kMaxBatchGet = 1000;
constexpr int kMaxSyncRecords = 1000000;

absl::StatusOr<std::string> ParseName(absl::string_view name,
                                      absl::string_view prefix,
                                      absl::string_view field,
                                      absl::string_view shape) {
  absl::string_view id = name;
  if (name.empty()) return status::InvalidField(field, "must not be empty");
  if (!absl::ConsumePrefix(&id, prefix) || !server::IsId(id)) {
    return status::InvalidField(field, absl::StrCat("must look like ", shape));
  }
  return std::string(id);
}

absl::StatusOr<std::string> OptionalPersonName(absl::string_view name,
                                               absl::string_view field) {
  if (name.empty()) return std::string();
  return ParsePersonName(name, field);
}

google::protobuf::Timestamp Micros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

std::string Today() {
  return absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
}

// Page tokens carry the last id of the previous page and are bound to filters.
absl::StatusOr<server::Paging> StartPage(const server::Runtime& rt,
                                         absl::string_view method,
                                         absl::string_view filters,
                                         int page_size,
                                         const std::string& token) {
  return server::StartPage(rt.tokens(), method, filters, page_size, token,
                           /*extra=*/true);
}

template <typename T>
std::string FinishPage(const server::Runtime& rt, absl::string_view method,
                       absl::string_view filters, const server::Paging& p,
                       std::vector<T>* rows) {
  return server::FinishPage(rt.tokens(), method, filters, p, rows,
                            [](const T& row) { return row.id; });
}

v1::SyncPeopleResponse::Change::Kind ToProto(ChangeAction a) {
  switch (a) {
    case ChangeAction::kCreated:
      return v1::SyncPeopleResponse::Change::CREATED;
    case ChangeAction::kUpdated:
      return v1::SyncPeopleResponse::Change::UPDATED;
    case ChangeAction::kTerminated:
      return v1::SyncPeopleResponse::Change::TERMINATED;
  }
  return v1::SyncPeopleResponse::Change::KIND_UNSPECIFIED;
}

void ToProto(const Counts& c, v1::SyncPeopleResponse::Counts* out) {
  out->set_created(c.created);
  out->set_updated(c.updated);
  out->set_terminated(c.terminated);
  out->set_unchanged(c.unchanged);
}

// Collects the records of a SyncPeople stream, then runs the sync on a worker.
class SyncReactor : public grpc::ServerReadReactor<v1::SyncPeopleRequest> {
 public:
  SyncReactor(PeopleHandler* handler, grpc::CallbackServerContext* ctx,
              v1::SyncPeopleResponse* resp)
      : handler_(handler), ctx_(ctx), resp_(resp) {
    auto principal = handler_->runtime()->Authenticate(ctx);
    if (!principal.ok()) {
      Finish(status::ToGrpc(principal.status()));
      return;
    }
    principal_ = *principal;
    if (auto st = handler_->service()->CheckCanSync(principal_); !st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Run();
      return;
    }
    absl::Status st = Take();
    if (!st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    StartRead(&msg_);
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (msg_.item_case() == v1::SyncPeopleRequest::kOptions) {
      if (have_options_ || records_ > 0) {
        return status::InvalidField("options",
                                    "must be sent once, in the first message");
      }
      have_options_ = true;
      options_ = msg_.options();
      return absl::OkStatus();
    }
    if (!have_options_) {
      return status::InvalidField(
          "options", "the first message must carry the sync options");
    }
    if (++records_ > kMaxSyncRecords) {
      return status::InvalidField(
          "records",
          absl::StrCat("at most ", kMaxSyncRecords, " records per sync"));
    }
    int index = records_ - 1;
    if (msg_.item_case() == v1::SyncPeopleRequest::kPerson) {
      auto* r = msg_.mutable_person();
      PersonRecord p;
      p.index = index;
      p.external_id = std::move(*r->mutable_external_id());
      p.email = std::move(*r->mutable_email());
      p.display_name = std::move(*r->mutable_display_name());
      p.title = std::move(*r->mutable_title());
      p.team_external_id = std::move(*r->mutable_team_external_id());
      p.manager_external_id = std::move(*r->mutable_manager_external_id());
      p.status = r->status();
      p.start_date = std::move(*r->mutable_start_date());
      p.end_date = std::move(*r->mutable_end_date());
      p.roles.assign(r->roles().begin(), r->roles().end());
      p.source_row = r->source_row();
      input_.people.push_back(std::move(p));
    } else if (msg_.item_case() == v1::SyncPeopleRequest::kTeam) {
      auto* r = msg_.mutable_team();
      TeamRecord t;
      t.index = index;
      t.external_id = std::move(*r->mutable_external_id());
      t.display_name = std::move(*r->mutable_display_name());
      t.parent_external_id = std::move(*r->mutable_parent_external_id());
      t.lead_external_id = std::move(*r->mutable_lead_external_id());
      t.source_row = r->source_row();
      input_.teams.push_back(std::move(t));
    } else {
      return status::InvalidField(absl::StrCat("records[", index, "]"),
                                  "must be a person or a team");
    }
    return absl::OkStatus();
  }

  void Run() {
    if (!have_options_) {
      Finish(status::ToGrpc(
          status::InvalidField("options", "the stream carried no options")));
      return;
    }
    switch (options_.mode()) {
      case v1::SyncOptions::FULL:
        input_.mode = SyncMode::kFull;
        break;
      case v1::SyncOptions::INCREMENTAL:
        input_.mode = SyncMode::kIncremental;
        break;
      default:
        Finish(status::ToGrpc(status::InvalidField(
            "options.mode", "must be FULL or INCREMENTAL")));
        return;
    }
    if (auto st = storage::ValidateRequestId(options_.request_id(),
                                             "options.request_id");
        !st.ok()) {
      Finish(status::ToGrpc(st));
      return;
    }
    input_.dry_run = options_.dry_run();
    input_.allow_mass_termination = options_.allow_mass_termination();
    input_.effective_date = options_.effective_date();
    auto* rt = handler_->runtime();
    if (!rt->executor().TrySubmit([this] { Apply(); }))
      Finish(server::Runtime::Overloaded());
  }

  void Apply() {
    // A dry run is never recorded: its key is left empty.
    storage::Idempotency key;
    if (!options_.request_id().empty() && !input_.dry_run) {
      key.scope = absl::StrCat("SyncPeople|", principal_.subject);
      key.request_id = options_.request_id();
      // The fingerprint covers the options and every record, in order.
      std::string all = options_.SerializeAsString();
      for (const auto& p : input_.people) {
        absl::StrAppend(&all, "|p", p.index, ":", p.external_id, ",", p.email,
                        ",", p.display_name, ",", p.title, ",",
                        p.team_external_id, ",", p.manager_external_id, ",",
                        p.status, ",", p.start_date, ",", p.end_date, ",",
                        absl::StrJoin(p.roles, ";"));
      }
      for (const auto& t : input_.teams) {
        absl::StrAppend(&all, "|t", t.index, ":", t.external_id, ",",
                        t.display_name, ",", t.parent_external_id, ",",
                        t.lead_external_id);
      }
      key.fingerprint = storage::Sha256Hex(all);
    }
    bool dry_run = input_.dry_run;
    auto encode = [this, dry_run](const SyncResult& applied) {
      v1::SyncPeopleResponse r;
      Fill(applied, dry_run, &r);
      return r.SerializeAsString();
    };
    absl::Status st;
    {
      auto result = handler_->service()->Sync(principal_, input_, key, encode,
                                              storage::NowMicros(), Today());
      input_ = SyncInput{};
      st = result.status();
      if (result.ok() && result->replayed) {
        if (!resp_->ParseFromString(result->response)) {
          st = absl::DataLossError("stored sync answer does not parse");
        }
      } else if (result.ok()) {
        Fill(*result, dry_run, resp_);
      }
    }
    // A large roster leaves freed heap behind; hand it back to the system.
    malloc_trim(0);
    Finish(handler_->runtime()->Finish(st));
  }

  void Fill(const SyncResult& applied, bool dry_run,
            v1::SyncPeopleResponse* r) {
    const SyncPlan& plan = applied.plan;
    r->set_applied(!dry_run);
    ToProto(plan.people, r->mutable_people());
    ToProto(plan.teams, r->mutable_teams());
    for (const auto& d : plan.details) {
      auto* c = r->add_changes();
      c->set_kind(ToProto(d.action));
      if (!(dry_run && d.action == ChangeAction::kCreated)) {
        c->set_name(absl::StrCat(d.is_team ? "teams/" : "people/", d.id));
      }
      c->set_external_id(d.external_id);
      for (const auto& f : d.fields) {
        auto* fc = c->add_fields();
        fc->set_field(f.field);
        fc->set_old_value(f.old_value);
        fc->set_new_value(f.new_value);
      }
    }
    int64_t seq = applied.last_seq > 0 ? applied.last_seq
                                       : handler_->watch().feed->head();
    r->set_resume_token(server::EncodeResumeToken(
        handler_->runtime()->tokens(), handler_->watch().feed_name, seq));
  }

  PeopleHandler* handler_;
  grpc::CallbackServerContext* ctx_;
  v1::SyncPeopleResponse* resp_;
  auth::Principal principal_;
  v1::SyncPeopleRequest msg_;
  v1::SyncOptions options_;
  bool have_options_ = false;
  int records_ = 0;
  SyncInput input_;
};

}  // namespace

absl::StatusOr<std::string> ParsePersonName(absl::string_view name,
                                            absl::string_view field) {
  return ParseName(name, "people/", field, "people/{person}");
}

absl::StatusOr<std::string> ParseTeamName(absl::string_view name,
                                          absl::string_view field) {
  return ParseName(name, "teams/", field, "teams/{team}");
}

void ToProto(const Person& p, v1::Person* out) {
  out->set_name(absl::StrCat("people/", p.id));
  out->set_external_id(p.external_id);
  out->set_email(p.email);
  out->set_display_name(p.display_name);
  out->set_title(p.title);
  if (!p.team_id.empty()) out->set_team(absl::StrCat("teams/", p.team_id));
  if (!p.manager_id.empty())
    out->set_manager(absl::StrCat("people/", p.manager_id));
  out->set_status(static_cast<v1::Person::Status>(static_cast<int>(p.status)));
  out->set_start_date(p.start_date);
  out->set_end_date(p.end_date);
  for (const auto& r : p.roles) out->add_roles(r);
  out->set_etag(storage::Etag(out->name(), p.revision));
  *out->mutable_create_time() = Micros(p.create_time);
  *out->mutable_update_time() = Micros(p.update_time);
}

std::string RenderPerson(const Person& p) {
  v1::Person m;
  ToProto(p, &m);
  return m.SerializeAsString();
}

void ToProto(const Team& t, v1::Team* out) {
  out->set_name(absl::StrCat("teams/", t.id));
  out->set_external_id(t.external_id);
  out->set_display_name(t.display_name);
  if (!t.parent_id.empty())
    out->set_parent(absl::StrCat("teams/", t.parent_id));
  if (!t.lead_id.empty()) out->set_lead(absl::StrCat("people/", t.lead_id));
  out->set_etag(storage::Etag(out->name(), t.revision));
  *out->mutable_create_time() = Micros(t.create_time);
  *out->mutable_update_time() = Micros(t.update_time);
}

PeopleHandler::PeopleHandler(server::Runtime* runtime, PeopleService* service,
                             server::ChangeStreamDeps watch)
    : runtime_(runtime), service_(service), watch_(std::move(watch)) {}

grpc::ServerUnaryReactor* PeopleHandler::GetPerson(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req_bytes,
    grpc::ByteBuffer* resp) {
  // The hottest read of the suite: a warm one is answered on the gRPC thread
  // with the bytes rendered when the person was first read from memory.
  auto fast =
      [this, req_bytes,
       resp](const server::CallContext& call) -> std::optional<absl::Status> {
    v1::GetPersonRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParsePersonName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto p = service_->PeekPerson(call.principal, *id);
    if (!p.ok()) return p.status();
    if (*p == nullptr) return std::nullopt;
    server::SetRaw((*p)->Rendered(RenderPerson), resp);
    return absl::OkStatus();
  };
  auto slow = [this, req_bytes,
               resp](const server::CallContext& call) -> absl::Status {
    v1::GetPersonRequest req;
    if (auto st = server::ParseRaw(*req_bytes, &req); !st.ok()) return st;
    auto id = ParsePersonName(req.name(), "name");
    if (!id.ok()) return id.status();
    auto p = service_->GetPerson(call.principal, *id);
    if (!p.ok()) return p.status();
    server::SetRaw(RenderPerson(*p), resp);
    return absl::OkStatus();
  };
  return runtime_->Unary(ctx, fast, slow);
}

grpc::ServerUnaryReactor* PeopleHandler::BatchGetPeople(
    grpc::CallbackServerContext* ctx, const v1::BatchGetPeopleRequest* req,
    v1::BatchGetPeopleResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        if (req->names_size() > kMaxBatchGet) {
          return status::InvalidField(
              "names", absl::StrCat("at most ", kMaxBatchGet, " names"));
        }
        std::vector<std::string> ids;
        status::FieldErrors errors;
        for (int i = 0; i < req->names_size(); ++i) {
          auto id =
              ParsePersonName(req->names(i), absl::StrCat("names[", i, "]"));
          if (!id.ok()) {
            auto v = status::FieldViolations(id.status());
            errors.Add(v.empty() ? absl::StrCat("names[", i, "]") : v[0].field,
                       v.empty() ? "invalid" : v[0].description);
            continue;
          }
          ids.push_back(*id);
        }
        if (!errors.empty()) return errors.Build();
        auto people = service_->BatchGetPeople(call.principal, ids);
        if (!people.ok()) return people.status();
        for (const auto& p : *people) ToProto(p, resp->add_people());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::ListPeople(
    grpc::CallbackServerContext* ctx, const v1::ListPeopleRequest* req,
    v1::ListPeopleResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        PeopleFilter f;
        if (!req->team().empty()) {
          auto team = ParseTeamName(req->team(), "team");
          if (!team.ok()) return team.status();
          f.team_id = *team;
        }
        auto manager = OptionalPersonName(req->manager(), "manager");
        if (!manager.ok()) return manager.status();
        f.manager_id = *manager;
        if (!v1::Person::Status_IsValid(req->status())) {
          return status::InvalidField("status", "is not a person status");
        }
        f.status = req->status();
        std::string filters =
            absl::StrCat(f.team_id, "|", f.manager_id, "|", f.status);
        auto paging = StartPage(*runtime_, "ListPeople", filters,
                                req->page_size(), req->page_token());
        if (!paging.ok()) return paging.status();
        auto people = service_->ListPeople(call.principal, f, paging->page);
        if (!people.ok()) return people.status();
        resp->set_next_page_token(
            FinishPage(*runtime_, "ListPeople", filters, *paging, &*people));
        for (const auto& p : *people) ToProto(p, resp->add_people());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::LookupPerson(
    grpc::CallbackServerContext* ctx, const v1::LookupPersonRequest* req,
    v1::Person* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        absl::StatusOr<Person> p;
        switch (req->key_case()) {
          case v1::LookupPersonRequest::kExternalId:
            p = service_->LookupByExternalId(call.principal,
                                             req->external_id());
            break;
          case v1::LookupPersonRequest::kEmail:
            p = service_->LookupByEmail(call.principal, req->email());
            break;
          default:
            if (auto st = service_->CheckCanRead(call.principal); !st.ok())
              return st;
            return status::InvalidField("key", "set external_id or email");
        }
        if (!p.ok()) return p.status();
        ToProto(*p, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::GetTeam(
    grpc::CallbackServerContext* ctx, const v1::GetTeamRequest* req,
    v1::Team* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParseTeamName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto t = service_->GetTeam(call.principal, *id);
        if (!t.ok()) return t.status();
        ToProto(*t, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::ListTeams(
    grpc::CallbackServerContext* ctx, const v1::ListTeamsRequest* req,
    v1::ListTeamsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        std::string parent;
        if (!req->parent().empty()) {
          auto id = ParseTeamName(req->parent(), "parent");
          if (!id.ok()) return id.status();
          parent = *id;
        }
        auto paging = StartPage(*runtime_, "ListTeams", parent,
                                req->page_size(), req->page_token());
        if (!paging.ok()) return paging.status();
        auto teams = service_->ListTeams(call.principal, parent, paging->page);
        if (!teams.ok()) return teams.status();
        resp->set_next_page_token(
            FinishPage(*runtime_, "ListTeams", parent, *paging, &*teams));
        for (const auto& t : *teams) ToProto(t, resp->add_teams());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::GetReportingChain(
    grpc::CallbackServerContext* ctx, const v1::GetReportingChainRequest* req,
    v1::GetReportingChainResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParsePersonName(req->name(), "name");
        if (!id.ok()) return id.status();
        auto chain = service_->ReportingChain(call.principal, *id);
        if (!chain.ok()) return chain.status();
        for (const auto& p : *chain) ToProto(p, resp->add_managers());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PeopleHandler::ListReports(
    grpc::CallbackServerContext* ctx, const v1::ListReportsRequest* req,
    v1::ListReportsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = ParsePersonName(req->name(), "name");
        if (!id.ok()) return id.status();
        if (!v1::Person::Status_IsValid(req->status())) {
          return status::InvalidField("status", "is not a person status");
        }
        std::string filters =
            absl::StrCat(*id, "|", req->all_levels(), "|", req->status());
        auto paging = StartPage(*runtime_, "ListReports", filters,
                                req->page_size(), req->page_token());
        if (!paging.ok()) return paging.status();
        auto people = service_->ListReports(
            call.principal, *id, req->all_levels(), req->status(), paging->page,
            /*first_page=*/req->page_token().empty());
        if (!people.ok()) return people.status();
        resp->set_next_page_token(
            FinishPage(*runtime_, "ListReports", filters, *paging, &*people));
        for (const auto& p : *people) ToProto(p, resp->add_people());
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::WatchPeopleResponse>* PeopleHandler::WatchPeople(
    grpc::CallbackServerContext* ctx, const v1::WatchPeopleRequest* req) {
  auto render = [](const storage::ChangeRow& row, const std::string& token)
      -> absl::StatusOr<std::optional<v1::WatchPeopleResponse>> {
    auto change =
        PeopleService::DecodeChange(row.entity, row.kind, row.payload);
    if (!change.ok()) return change.status();
    if (!change->has_value()) return std::optional<v1::WatchPeopleResponse>();
    v1::WatchPeopleResponse out;
    out.set_change_type(
        static_cast<v1::WatchPeopleResponse::ChangeType>((*change)->kind));
    *out.mutable_commit_time() = Micros(row.commit_time_micros);
    out.set_resume_token(token);
    if ((*change)->person) ToProto(*(*change)->person, out.mutable_person());
    if ((*change)->team) ToProto(*(*change)->team, out.mutable_team());
    return std::optional<v1::WatchPeopleResponse>(std::move(out));
  };
  return server::ChangeStream<v1::WatchPeopleResponse>::Start(
      watch_, ctx, req->resume_token(), render);
}

grpc::ServerReadReactor<v1::SyncPeopleRequest>* PeopleHandler::SyncPeople(
    grpc::CallbackServerContext* ctx, v1::SyncPeopleResponse* resp) {
  return new SyncReactor(this, ctx, resp);
}

}  // namespace sightline::people
