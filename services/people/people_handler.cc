#include "services/people/people_handler.h"

#include "absl/strings/str_cat.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "services/people/convert.h"

namespace sightline::people {
namespace {

constexpr int kMaxBatchGet = 1000;

// One page of a List method, in id order. The page token carries the last id
// of the previous page and is bound to the method and its filters; `fetch`
// reads the rows of a storage page and `next` receives the next page's token.
template <typename Fetch>
auto OnePage(const server::Runtime& rt, absl::string_view method,
             absl::string_view filters, int page_size, const std::string& token,
             Fetch fetch, std::string* next) -> decltype(fetch(Page{})) {
  auto paging = server::StartPage(rt.tokens(), method, filters, page_size,
                                  token, /*extra=*/true);
  if (!paging.ok()) return paging.status();
  auto rows = fetch(paging->page);
  if (!rows.ok()) return rows.status();
  *next = server::FinishPage(rt.tokens(), method, filters, *paging, &*rows,
                             [](const auto& row) { return row.id; });
  return rows;
}

}  // namespace

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
        auto people = OnePage(
            *runtime_, "ListPeople", filters, req->page_size(),
            req->page_token(),
            [&](const Page& page) {
              return service_->ListPeople(call.principal, f, page);
            },
            resp->mutable_next_page_token());
        if (!people.ok()) return people.status();
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
        auto teams = OnePage(
            *runtime_, "ListTeams", parent, req->page_size(), req->page_token(),
            [&](const Page& page) {
              return service_->ListTeams(call.principal, parent, page);
            },
            resp->mutable_next_page_token());
        if (!teams.ok()) return teams.status();
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
        auto people = OnePage(
            *runtime_, "ListReports", filters, req->page_size(),
            req->page_token(),
            [&](const Page& page) {
              return service_->ListReports(
                  call.principal, *id, req->all_levels(), req->status(), page,
                  /*first_page=*/req->page_token().empty());
            },
            resp->mutable_next_page_token());
        if (!people.ok()) return people.status();
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

}  // namespace sightline::people
