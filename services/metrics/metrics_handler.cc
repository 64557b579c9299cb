#include "services/metrics/metrics_handler.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/server/api.h"
#include "lib/status/status.h"
#include "lib/storage/database.h"
#include "services/metrics/formula.h"

namespace sightline::metrics {
namespace {

using google::protobuf::util::TimeUtil;
using server::EnumOf;
using server::kPersonShape;
using server::kTeamShape;
using server::OptionalIdOf;

constexpr int kDefaultListPage = 50;
// Buckets per query, at most.
constexpr int64_t kMaxBuckets = 10000;

google::protobuf::Timestamp Micros(int64_t us) {
  return TimeUtil::MicrosecondsToTimestamp(us);
}

std::string Person(const std::string& id) {
  return id.empty() ? "" : absl::StrCat("people/", id);
}
std::string Team(const std::string& id) {
  return id.empty() ? "" : absl::StrCat("teams/", id);
}

void ToProto(const Target& t, v1::Target* out) {
  *out->mutable_start_time() = Micros(t.start);
  *out->mutable_end_time() = Micros(t.end);
  out->set_value(t.value);
  if (t.amber) out->set_amber_threshold(*t.amber);
  if (t.red) out->set_red_threshold(*t.red);
}

}  // namespace

void ToProto(const Kpi& k, v1::Kpi* out) {
  out->set_name(absl::StrCat("kpis/", k.id));
  if (k.derived()) {
    auto f = Formula::Parse(k.formula, "formula");
    if (f.ok()) {
      for (const auto& in : (*f)->inputs())
        out->add_input_kpis(absl::StrCat("kpis/", in));
    }
  }
  out->set_display_name(k.display_name);
  out->set_description(k.description);
  out->set_owner_person(Person(k.owner_person_id));
  out->set_owner_team(Team(k.owner_team_id));
  out->set_format(static_cast<v1::Kpi::Format>(k.format));
  out->set_currency_code(k.currency_code);
  out->set_unit(k.unit);
  out->set_direction(static_cast<v1::Kpi::Direction>(k.direction));
  if (k.direction == Direction::kInRange) {
    out->mutable_band()->set_low(k.band_low);
    out->mutable_band()->set_high(k.band_high);
  }
  out->set_aggregation(static_cast<v1::Kpi::Aggregation>(k.aggregation));
  out->set_period(static_cast<v1::Kpi::Period>(k.period));
  *out->mutable_cadence() = TimeUtil::MicrosecondsToDuration(k.cadence);
  out->set_perspective(static_cast<v1::Kpi::Perspective>(k.perspective));
  out->set_visibility(static_cast<v1::Visibility>(k.visibility));
  for (const auto& d : k.dimension_keys) out->add_dimension_keys(d);
  out->set_formula(k.formula);
  if (!k.prom_query.empty()) out->mutable_prometheus()->set_query(k.prom_query);
  for (const auto& t : k.targets) ToProto(t, out->add_targets());
  out->set_export_(k.exported);
  out->set_etag(MetricsService::Etag(k));
  out->set_revision(k.revision);
  *out->mutable_create_time() = Micros(k.create_time);
  *out->mutable_update_time() = Micros(k.update_time);
}

void ToProto(const StatusView& s, v1::KpiStatus* out) {
  out->set_kpi(absl::StrCat("kpis/", s.kpi_id));
  *out->mutable_period_start() = Micros(s.period_start);
  *out->mutable_period_end() = Micros(s.period_end);
  if (s.value) out->set_value(*s.value);
  if (s.previous) out->set_previous_value(*s.previous);
  if (s.target) ToProto(*s.target, out->mutable_target());
  out->set_status(static_cast<v1::KpiStatus::Status>(s.state));
  if (s.trend) out->set_trend(static_cast<v1::KpiStatus::Trend>(*s.trend));
  out->set_stale(s.stale);
  if (s.last_point_time > 0)
    *out->mutable_last_point_time() = Micros(s.last_point_time);
  out->set_source_error(s.source_error);
}

namespace {

v1::Scorecard::PartState PartStateOf(PartState s) {
  return static_cast<v1::Scorecard::PartState>(static_cast<int>(s));
}

}  // namespace

void ToProto(const ScorecardView& s, v1::Scorecard* out) {
  out->set_subject(!s.subject.person_id.empty() ? Person(s.subject.person_id)
                                                : Team(s.subject.team_id));
  *out->mutable_period_start() = Micros(s.period_start);
  *out->mutable_period_end() = Micros(s.period_end);
  *out->mutable_compute_time() = Micros(s.compute_time);

  auto* g = out->mutable_goals();
  g->mutable_status()->set_state(PartStateOf(s.goals.state));
  g->mutable_status()->set_reason(s.goals.reason);
  g->set_goal_count(s.goals.goal_count);
  g->set_mean_progress(s.goals.mean_progress);
  if (s.goals.on_track_share) g->set_on_track_share(*s.goals.on_track_share);
  for (const auto& c : s.goals.closed_cycles) {
    auto* o = g->add_closed_cycles();
    o->set_cycle(absl::StrCat("cycles/", c.cycle_id));
    o->set_display_name(c.display_name);
    o->set_goal_count(c.goal_count);
    o->set_mean_score(c.mean_score);
  }
  if (s.goals.score) g->set_score(*s.goals.score);
  g->set_weight(s.weights.of(ScorePart::kGoals));

  auto* f = out->mutable_feedback();
  f->mutable_status()->set_state(PartStateOf(s.feedback.state));
  f->mutable_status()->set_reason(s.feedback.reason);
  const FeedbackInput& st = s.feedback.stats;
  f->set_start_date(st.start_date);
  f->set_end_date(st.end_date);
  f->set_withheld_reason(st.withheld_reason);
  f->set_total(st.total);
  f->set_praise(st.praise);
  f->set_constructive(st.constructive);
  f->set_observation(st.observation);
  f->set_requests_asked(st.requests_asked);
  f->set_requests_answered(st.requests_answered);
  if (s.feedback.score) f->set_score(*s.feedback.score);
  f->set_weight(s.weights.of(ScorePart::kFeedback));

  auto* k = out->mutable_kpis();
  k->mutable_status()->set_state(PartStateOf(s.kpi_state));
  k->set_kpi_count(s.kpi_count);
  for (const auto& p : s.perspectives) {
    auto* o = out->add_perspectives();
    o->set_perspective(static_cast<v1::Kpi::Perspective>(p.perspective));
    for (const auto& [kpi, status] : p.kpis) {
      ToProto(status, o->add_kpis());
      ToProto(kpi, o->add_definitions());
    }
    if (p.score) o->set_score(*p.score);
    o->set_weight(p.weight);
  }
  if (s.overall) out->set_overall_score(*s.overall);
  for (const auto& m : s.missing_parts) out->add_missing_parts(m);
  out->set_complete(s.missing_parts.empty());
}

MetricsHandler::MetricsHandler(server::Runtime* runtime,
                               MetricsService* service, org::OrgService* org,
                               server::ChangeStreamDeps watch)
    : runtime_(runtime),
      service_(service),
      org_(org),
      watch_(std::move(watch)) {}

absl::StatusOr<Caller> MetricsHandler::CallerOf(
    const auth::Principal& principal, bool fresh) {
  return org_->ResolveCaller(principal, fresh);
}

grpc::ServerUnaryReactor* MetricsHandler::CreateKpi(
    grpc::CallbackServerContext* ctx, const v1::CreateKpiRequest* req,
    v1::Kpi* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        Kpi k = KpiOf(req->kpi(), &errors);
        if (!req->kpi_id().empty()) {
          if (!IsKpiId(req->kpi_id())) {
            errors.Add("kpi_id",
                       "must be 1..63 of [a-z0-9-], starting with a letter");
          }
          k.id = req->kpi_id();
        }
        if (!errors.empty()) return errors.Build();
        auto idem = server::IdempotencyOf("CreateKpi", call.principal.subject,
                                          *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto caller = CallerOf(call.principal, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        auto made = service_->CreateKpi(*caller, std::move(k), *idem,
                                        storage::NowMicros());
        if (!made.ok()) return made.status();
        ToProto(*made, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetricsHandler::GetKpi(
    grpc::CallbackServerContext* ctx, const v1::GetKpiRequest* req,
    v1::Kpi* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        auto id = server::ParseOne(req->name(), kKpiShape, "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto k = service_->GetKpi(*caller, *id);
        if (!k.ok()) return k.status();
        ToProto(*k, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetricsHandler::ListKpis(
    grpc::CallbackServerContext* ctx, const v1::ListKpisRequest* req,
    v1::ListKpisResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        ListSpec spec;
        if (absl::StartsWith(req->owner(), "teams/")) {
          spec.owner_team_id =
              OptionalIdOf(req->owner(), kTeamShape, "owner", &errors);
        } else {
          spec.owner_person_id =
              OptionalIdOf(req->owner(), kPersonShape, "owner", &errors);
        }
        spec.perspective = static_cast<int>(EnumOf<Perspective>(
            req->perspective(), v1::Kpi::Perspective_descriptor(),
            "perspective", &errors));
        spec.state = static_cast<int>(
            EnumOf<KpiState>(req->status(), v1::KpiStatus::Status_descriptor(),
                             "status", &errors));
        if (!errors.empty()) return errors.Build();
        std::string filters =
            absl::StrCat(req->owner(), "|", spec.perspective, "|", spec.state);
        auto paging = server::StartPage(runtime_->tokens(), "ListKpis", filters,
                                        req->page_size(), req->page_token(),
                                        false, kDefaultListPage);
        if (!paging.ok()) return paging.status();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        std::string next;
        auto rows = service_->ListKpis(*caller, spec, paging->page,
                                       storage::NowMicros(), &next);
        if (!rows.ok()) return rows.status();
        for (const auto& k : *rows) ToProto(k, resp->add_kpis());
        resp->set_next_page_token(
            server::TokenFor(runtime_->tokens(), "ListKpis", filters, next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetricsHandler::UpdateKpi(
    grpc::CallbackServerContext* ctx, const v1::UpdateKpiRequest* req,
    v1::Kpi* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::vector<std::string> ids;
        server::ParseInto(req->kpi().name(), kKpiShape, "kpi.name", &ids,
                          &errors);
        Kpi in = KpiOf(req->kpi(), &errors);
        if (!ids.empty()) in.id = ids[0];
        if (req->update_mask().paths().empty())
          errors.Add("update_mask", "name at least one field");
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call.principal, /*fresh=*/true);
        if (!caller.ok()) return caller.status();
        std::vector<std::string> paths(req->update_mask().paths().begin(),
                                       req->update_mask().paths().end());
        auto k = service_->UpdateKpi(*caller, in, paths, req->kpi().etag(),
                                     storage::NowMicros());
        if (!k.ok()) return k.status();
        ToProto(*k, resp);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetricsHandler::DeleteKpi(
    grpc::CallbackServerContext* ctx, const v1::DeleteKpiRequest* req,
    google::protobuf::Empty*) {
  return runtime_->Unary(
      ctx, [this, req](const server::CallContext& call) -> absl::Status {
        auto id = server::ParseOne(req->name(), kKpiShape, "name");
        if (!id.ok()) return id.status();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        return service_->DeleteKpi(*caller, *id, req->etag());
      });
}

grpc::ServerUnaryReactor* MetricsHandler::BatchWriteDataPoints(
    grpc::CallbackServerContext* ctx,
    const v1::BatchWriteDataPointsRequest* req,
    v1::WriteDataPointsResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        std::vector<Point> points;
        points.reserve(req->points_size());
        for (int i = 0; i < req->points_size(); ++i) {
          points.push_back(PointOf(req->points(i),
                                   absl::StrCat("points[", i, "]"), &errors));
        }
        if (!errors.empty()) return errors.Build();
        auto idem = server::IdempotencyOf(
            "WriteDataPoints", call.principal.subject, *req, req->request_id());
        if (!idem.ok()) return idem.status();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto n = service_->WritePoints(*caller, std::move(points), *idem,
                                       storage::NowMicros());
        if (!n.ok()) return n.status();
        resp->set_written(*n);
        return absl::OkStatus();
      });
}

namespace {

// Collects the points of a WriteDataPoints stream, then writes them all in
// one transaction on a worker.
class WriteReactor
    : public grpc::ServerReadReactor<v1::WriteDataPointsRequest> {
 public:
  WriteReactor(MetricsHandler* handler, grpc::CallbackServerContext* ctx,
               v1::WriteDataPointsResponse* resp)
      : handler_(handler), resp_(resp) {
    auto principal = handler_->runtime()->Authenticate(ctx);
    if (!principal.ok()) {
      Finish(status::ToGrpc(principal.status()));
      return;
    }
    principal_ = *principal;
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      if (!handler_->runtime()->executor().TrySubmit([this] { Apply(); }))
        Finish(server::Runtime::Overloaded());
      return;
    }
    if (first_) {
      request_id_ = msg_.request_id();
      first_ = false;
    }
    for (int i = 0; i < msg_.points_size(); ++i, ++index_) {
      if (index_ >= kMaxStreamPoints) {
        Finish(status::ToGrpc(status::InvalidField(
            "points", absl::StrCat("at most ", kMaxStreamPoints,
                                   " points per call; split the load"))));
        return;
      }
      points_.push_back(PointOf(
          msg_.points(i), absl::StrCat("points[", index_, "]"), &errors_));
    }
    if (!request_id_.empty()) {
      // The fingerprint covers every point, in order.
      msg_.clear_request_id();
      msg_.AppendToString(&fingerprint_input_);
    }
    StartRead(&msg_);
  }

  void OnDone() override { delete this; }

 private:
  static constexpr int64_t kMaxStreamPoints = 1000000;

  void Apply() {
    if (!errors_.empty()) {
      Finish(status::ToGrpc(errors_.Build()));
      return;
    }
    storage::Idempotency idem;
    if (!request_id_.empty()) {
      if (auto st = storage::ValidateRequestId(request_id_, "request_id");
          !st.ok()) {
        Finish(status::ToGrpc(st));
        return;
      }
      idem.scope = absl::StrCat("WriteDataPoints|", principal_.subject);
      idem.request_id = request_id_;
      // Same key space as BatchWriteDataPoints: a retry through either
      // method with the same points is recognised.
      v1::BatchWriteDataPointsRequest as_batch;
      as_batch.ParseFromString(fingerprint_input_);
      idem.fingerprint = storage::RequestFingerprint(as_batch);
    }
    auto caller = handler_->CallerOf(principal_, /*fresh=*/false);
    if (!caller.ok()) {
      Finish(handler_->runtime()->Finish(caller.status()));
      return;
    }
    auto n = handler_->service()->WritePoints(*caller, std::move(points_), idem,
                                              storage::NowMicros());
    if (!n.ok()) {
      Finish(handler_->runtime()->Finish(n.status()));
      return;
    }
    resp_->set_written(*n);
    Finish(grpc::Status::OK);
  }

  MetricsHandler* handler_;
  v1::WriteDataPointsResponse* resp_;
  auth::Principal principal_;
  v1::WriteDataPointsRequest msg_;
  bool first_ = true;
  std::string request_id_;
  std::string fingerprint_input_;
  int64_t index_ = 0;
  std::vector<Point> points_;
  status::FieldErrors errors_;
};

}  // namespace

grpc::ServerReadReactor<v1::WriteDataPointsRequest>*
MetricsHandler::WriteDataPoints(grpc::CallbackServerContext* ctx,
                                v1::WriteDataPointsResponse* resp) {
  return new WriteReactor(this, ctx, resp);
}

grpc::ServerUnaryReactor* MetricsHandler::QueryKpi(
    grpc::CallbackServerContext* ctx, const v1::QueryKpiRequest* req,
    v1::QueryKpiResponse* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        PointQuery q;
        std::vector<std::string> ids;
        if (server::ParseInto(req->kpi(), kKpiShape, "kpi", &ids, &errors))
          q.kpi_id = ids[0];
        q.start = TimeOf(req->start_time(), "start_time", &errors);
        q.end = TimeOf(req->end_time(), "end_time", &errors);
        q.step = TimeUtil::DurationToMicroseconds(req->step());
        if (q.end <= q.start)
          errors.Add("end_time", "must be after start_time");
        if (q.step < 1000000) {
          errors.Add("step", "must be at least one second");
        } else if (q.end > q.start &&
                   (q.end - q.start + q.step - 1) / q.step > kMaxBuckets) {
          errors.Add("step", absl::StrCat("makes more than ", kMaxBuckets,
                                          " buckets; take a larger step"));
        }
        std::optional<Aggregation> aggregation;
        if (req->aggregation() != 0) {
          aggregation = EnumOf<Aggregation>(req->aggregation(),
                                            v1::Kpi::Aggregation_descriptor(),
                                            "aggregation", &errors);
        }
        q.dimension = req->dimension();
        q.group_by = req->group_by();
        if (!q.dimension.empty() && !q.group_by.empty())
          errors.Add("group_by", "set at most one of dimension, group_by");
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        auto series = service_->Query(*caller, q, aggregation);
        if (!series.ok()) return series.status();
        for (const auto& s : *series) {
          auto* out = resp->add_series();
          out->set_dimension(s.dimension);
          int64_t start = q.start;
          for (const auto& [value, count] : s.buckets) {
            auto* b = out->add_buckets();
            *b->mutable_start_time() = Micros(start);
            if (value) b->set_value(*value);
            b->set_count(count);
            start += q.step;
          }
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* MetricsHandler::GetKpiStatus(
    grpc::CallbackServerContext* ctx, const v1::GetKpiStatusRequest* req,
    v1::KpiStatus* resp) {
  // A status held in memory is answered on the gRPC thread (no SQL, no
  // other service: the caller comes from the directory's replica).
  auto fast =
      [this, req,
       resp](const server::CallContext& call) -> std::optional<absl::Status> {
    auto id = server::ParseOne(req->name(), kKpiShape, "name");
    if (!id.ok()) return id.status();
    auto caller = CallerOf(call.principal, /*fresh=*/false);
    if (!caller.ok()) return std::nullopt;
    auto s = service_->PeekStatus(*caller, *id, storage::NowMicros());
    if (!s) return std::nullopt;
    if (!s->ok()) return s->status();
    ToProto(**s, resp);
    return absl::OkStatus();
  };
  auto slow = [this, req,
               resp](const server::CallContext& call) -> absl::Status {
    auto id = server::ParseOne(req->name(), kKpiShape, "name");
    if (!id.ok()) return id.status();
    auto caller = CallerOf(call.principal, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    auto s = service_->GetStatus(*caller, *id, storage::NowMicros());
    if (!s.ok()) return s.status();
    ToProto(*s, resp);
    return absl::OkStatus();
  };
  return runtime_->Unary(ctx, fast, slow);
}

grpc::ServerUnaryReactor* MetricsHandler::GetScorecard(
    grpc::CallbackServerContext* ctx, const v1::GetScorecardRequest* req,
    v1::Scorecard* resp) {
  return runtime_->Unary(
      ctx, [this, req, resp](const server::CallContext& call) -> absl::Status {
        status::FieldErrors errors;
        ScorecardSubject subject;
        if (req->subject().empty()) {
          errors.Add("subject", "is required: people/{person} or teams/{team}");
        } else if (absl::StartsWith(req->subject(), "teams/")) {
          subject.team_id =
              server::IdOf(req->subject(), kTeamShape, "subject", &errors);
        } else {
          subject.person_id =
              server::IdOf(req->subject(), kPersonShape, "subject", &errors);
        }
        int64_t start = 0, end = 0;
        if (!req->has_period_start()) {
          errors.Add("period_start", "is required");
        } else {
          start = TimeOf(req->period_start(), "period_start", &errors);
        }
        if (!req->has_period_end()) {
          errors.Add("period_end", "is required");
        } else {
          end = TimeOf(req->period_end(), "period_end", &errors);
        }
        // The service refuses a period that ends before it starts.
        if (!errors.empty()) return errors.Build();
        auto caller = CallerOf(call.principal, /*fresh=*/false);
        if (!caller.ok()) return caller.status();
        // The other services are asked with the caller's own credentials.
        OnBehalf who;
        const auto& md = call.grpc->client_metadata();
        if (auto it = md.find("authorization"); it != md.end()) {
          who.authorization.assign(it->second.data(), it->second.size());
        }
        // The same request id in every service's log line for this call.
        who.request_id = call.measure.record().request_id;
        who.deadline = call.deadline;
        auto card = service_->GetScorecard(*caller, subject, start, end, who,
                                           storage::NowMicros());
        if (!card.ok()) return card.status();
        ToProto(*card, resp);
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<v1::WatchKpisResponse>* MetricsHandler::WatchKpis(
    grpc::CallbackServerContext* ctx, const v1::WatchKpisRequest* req) {
  using Failed = server::FailedWriter<v1::WatchKpisResponse>;
  auto principal = runtime_->Authenticate(ctx);
  if (!principal.ok()) return new Failed(status::ToGrpc(principal.status()));
  auth::Principal who = *principal;
  auto render = [this, who](const storage::ChangeRow& row,
                            const std::string& token)
      -> absl::StatusOr<std::optional<v1::WatchKpisResponse>> {
    v1::WatchKpisResponse out;
    // Access is decided per message, against the org as it is now.
    auto caller = CallerOf(who, /*fresh=*/false);
    if (!caller.ok()) return caller.status();
    if (row.entity == kKpiEntity) {
      auto k = DecodeKpi(row.payload);
      if (!k.ok()) return k.status();
      if (!service_->CanRead(*caller, *k)) return std::nullopt;
      out.set_change_type(
          static_cast<v1::WatchKpisResponse::ChangeType>(row.kind));
      ToProto(*k, out.mutable_kpi());
    } else if (row.entity == kPointsEntity) {
      auto w = DecodePointsWritten(row.payload);
      if (!w.ok()) return w.status();
      auto k = service_->GetKpi(*caller, w->kpi_id);
      if (absl::IsNotFound(k.status())) return std::nullopt;
      if (!k.ok()) return k.status();
      // When and how much a derived KPI's inputs were written is theirs to
      // tell: only to a caller who may read every one of them.
      if (auto st = service_->CheckInputs(*caller, *k);
          absl::IsPermissionDenied(st)) {
        return std::nullopt;
      } else if (!st.ok()) {
        return st;
      }
      out.set_change_type(v1::WatchKpisResponse::POINTS_WRITTEN);
      ToProto(*k, out.mutable_kpi());
      *out.mutable_points_start_time() = Micros(w->from);
      *out.mutable_points_end_time() = Micros(w->to);
      out.set_points_written(w->count);
    } else {
      return std::nullopt;
    }
    if (row.commit_time_micros > 0)
      *out.mutable_commit_time() = Micros(row.commit_time_micros);
    out.set_resume_token(token);
    return out;
  };
  return server::ChangeStream<v1::WatchKpisResponse>::Start(
      watch_, ctx, req->resume_token(), render);
}

}  // namespace sightline::metrics
