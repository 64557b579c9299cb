#pragma once

// The gRPC face of the metrics service: validates requests, converts between
// the API and the domain, and maps statuses once.

#include "lib/org/org.h"
#include "lib/server/change_stream.h"
#include "lib/server/runtime.h"
#include "services/metrics/convert.h"
#include "services/metrics/metrics_service.h"
#include "sightline/metrics/v1/metrics_service.grpc.pb.h"

namespace sightline::metrics {

class MetricsHandler : public v1::MetricsService::CallbackService {
 public:
  MetricsHandler(server::Runtime* runtime, MetricsService* service,
                 org::OrgService* org, server::ChangeStreamDeps watch);

#define SIGHTLINE_UNARY(Method, Request, Response)                             \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx,           \
                                   const v1::Request* req, v1::Response* resp) \
      override
  SIGHTLINE_UNARY(CreateKpi, CreateKpiRequest, Kpi);
  SIGHTLINE_UNARY(GetKpi, GetKpiRequest, Kpi);
  SIGHTLINE_UNARY(ListKpis, ListKpisRequest, ListKpisResponse);
  SIGHTLINE_UNARY(UpdateKpi, UpdateKpiRequest, Kpi);
  SIGHTLINE_UNARY(BatchWriteDataPoints, BatchWriteDataPointsRequest,
                  WriteDataPointsResponse);
  SIGHTLINE_UNARY(QueryKpi, QueryKpiRequest, QueryKpiResponse);
  SIGHTLINE_UNARY(GetKpiStatus, GetKpiStatusRequest, KpiStatus);
  SIGHTLINE_UNARY(GetScorecard, GetScorecardRequest, Scorecard);
#undef SIGHTLINE_UNARY
  grpc::ServerUnaryReactor* DeleteKpi(grpc::CallbackServerContext* ctx,
                                      const v1::DeleteKpiRequest* req,
                                      google::protobuf::Empty* resp) override;

  grpc::ServerReadReactor<v1::WriteDataPointsRequest>* WriteDataPoints(
      grpc::CallbackServerContext* ctx,
      v1::WriteDataPointsResponse* resp) override;
  grpc::ServerWriteReactor<v1::WatchKpisResponse>* WatchKpis(
      grpc::CallbackServerContext* ctx,
      const v1::WatchKpisRequest* req) override;

  server::Runtime* runtime() { return runtime_; }
  MetricsService* service() { return service_; }
  absl::StatusOr<Caller> CallerOf(const auth::Principal& principal, bool fresh);

 private:
  server::Runtime* runtime_;
  MetricsService* service_;
  org::OrgService* org_;
  server::ChangeStreamDeps watch_;
};

// Conversions, shared with the tools that read and write the API.
void ToProto(const Kpi& kpi, v1::Kpi* out);
void ToProto(const StatusView& s, v1::KpiStatus* out);
void ToProto(const ScorecardView& s, v1::Scorecard* out);

}  // namespace sightline::metrics
