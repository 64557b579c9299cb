#include "services/goals/grpc_kpi_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "lib/status/status.h"

namespace sightline::goals {
namespace {

namespace mv1 = metrics::v1;
using google::protobuf::util::TimeUtil;

std::string IdOf(absl::string_view name, absl::string_view prefix) {
  absl::ConsumePrefix(&name, prefix);
  return std::string(name);
}

KpiInfo InfoOf(const mv1::Kpi& k) {
  KpiInfo info;
  info.id = IdOf(k.name(), "kpis/");
  info.owned.owner_person_id = IdOf(k.owner_person(), "people/");
  info.owned.owner_team_id = IdOf(k.owner_team(), "teams/");
  // Same numbers as org::Visibility; anything else reads as PRIVATE there.
  info.owned.visibility = static_cast<org::Visibility>(k.visibility());
  for (const auto& in : k.input_kpis())
    info.inputs.push_back(IdOf(in, "kpis/"));
  return info;
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

google::protobuf::Timestamp Stamp(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

}  // namespace

GrpcKpiSource::GrpcKpiSource(std::shared_ptr<grpc::Channel> channel,
                             server::ServiceToken* token,
                             absl::Duration call_timeout)
    : stub_(mv1::MetricsService::NewStub(std::move(channel))),
      token_(token),
      call_timeout_(call_timeout) {}

absl::StatusOr<KpiInfo> GrpcKpiSource::GetKpi(const std::string& id) {
  grpc::ClientContext ctx;
  if (auto st = token_->Prepare(&ctx, call_timeout_); !st.ok()) return st;
  mv1::GetKpiRequest req;
  req.set_name(absl::StrCat("kpis/", id));
  mv1::Kpi resp;
  grpc::Status s = stub_->GetKpi(&ctx, req, &resp);
  if (!s.ok()) return status::FromDependency("metrics", s);
  return InfoOf(resp);
}

absl::StatusOr<std::optional<double>> GrpcKpiSource::ValueOver(
    const std::string& id, absl::Time start, absl::Time end) {
  grpc::ClientContext ctx;
  if (auto st = token_->Prepare(&ctx, call_timeout_); !st.ok()) return st;
  mv1::QueryKpiRequest req;
  req.set_kpi(absl::StrCat("kpis/", id));
  *req.mutable_start_time() = Stamp(start);
  *req.mutable_end_time() = Stamp(end);
  // One bucket over the whole range, with the KPI's own aggregation.
  *req.mutable_step() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(end - start));
  mv1::QueryKpiResponse resp;
  grpc::Status s = stub_->QueryKpi(&ctx, req, &resp);
  if (!s.ok()) return status::FromDependency("metrics", s);
  for (const auto& series : resp.series()) {
    for (const auto& b : series.buckets()) {
      if (b.has_value()) return std::optional<double>(b.value());
    }
  }
  return std::optional<double>();
}

absl::Status GrpcKpiSource::Watch(
    const std::string& resume_token,
    const std::function<absl::Status()>& on_open,
    const std::function<absl::Status(const KpiEvent&)>& on_event) {
  grpc::ClientContext ctx;
  auto header = token_->Header();
  if (!header.ok()) return header.status();
  ctx.AddMetadata("authorization", *header);
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("stopping");
    stream_ctx_ = &ctx;
  }
  struct Clear {
    GrpcKpiSource* s;
    ~Clear() {
      absl::MutexLock lock(&s->mu_);
      s->stream_ctx_ = nullptr;
    }
  } clear{this};
  mv1::WatchKpisRequest req;
  req.set_resume_token(resume_token);
  auto reader = stub_->WatchKpis(&ctx, req);
  // The server sends headers once the stream is positioned.
  reader->WaitForInitialMetadata();
  absl::Status handled = on_open();
  mv1::WatchKpisResponse msg;
  while (handled.ok() && reader->Read(&msg)) {
    KpiEvent ev;
    switch (msg.change_type()) {
      case mv1::WatchKpisResponse::POINTS_WRITTEN:
        ev.type = KpiEvent::Type::kPointsWritten;
        ev.points_start = TimeOf(msg.points_start_time());
        ev.points_end = TimeOf(msg.points_end_time());
        break;
      case mv1::WatchKpisResponse::UPDATED:
        ev.type = KpiEvent::Type::kUpdated;
        break;
      default:
        ev.type = KpiEvent::Type::kOther;
        break;
    }
    ev.kpi = InfoOf(msg.kpi());
    ev.resume_token = msg.resume_token();
    handled = on_event(ev);
  }
  if (!handled.ok()) {
    ctx.TryCancel();
    reader->Finish().IgnoreError();
    return handled;
  }
  grpc::Status s = reader->Finish();
  if (s.ok()) return absl::UnavailableError("metrics: the KPI feed ended");
  // Keep the metrics service's own code (OUT_OF_RANGE for a pruned token).
  return status::FromGrpc(s);
}

void GrpcKpiSource::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
}

}  // namespace sightline::goals
