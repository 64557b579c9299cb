#pragma once

// Evaluates PromQL against a Prometheus server through its HTTP API, for KPIs
// whose points come from a query. Every failure is a status the caller can
// show next to a stale KPI; nothing here ever turns a failure into a number.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sightline::metrics {

struct PromSample {
  int64_t time_micros = 0;
  double value = 0;
};

struct PrometheusOptions {
  // http:// or https://, optionally with a path prefix
  // ("http://prom:9090", "https://ops.example.com/prometheus").
  std::string base_url;
  // For the whole request: connect, query evaluation and transfer.
  absl::Duration timeout = absl::Seconds(10);
  // Sent as "Authorization: Bearer ..." when set; never part of an error text.
  std::string bearer_token;
  // Answers longer than this are refused (UNAVAILABLE), not read on.
  size_t max_response_bytes = size_t{4} << 20;
};

// Thread-safe: each query uses its own connection.
class PrometheusClient {
 public:
  explicit PrometheusClient(PrometheusOptions options);

  PrometheusClient(const PrometheusClient&) = delete;
  PrometheusClient& operator=(const PrometheusClient&) = delete;

  // GET {base_url}/api/v1/query?query=<urlencoded>&time=<unix seconds>.
  //  - one sample: OK;
  //  - no series, or NaN: NOT_FOUND("query returned no sample ...");
  //  - several series: FAILED_PRECONDITION("query returned N series; aggregate
  //    it to one, e.g. sum(...)"); also a range vector, a string, +Inf, -Inf;
  //  - Prometheus refused the query (HTTP 4xx with its JSON error, e.g. bad
  //    PromQL): INVALID_ARGUMENT with Prometheus' error text;
  //  - connection refused, timeout, HTTP 5xx, an answer too long or not in
  //    the query API's JSON shape: UNAVAILABLE;
  //  - an invalid base_url: INVALID_ARGUMENT naming prometheus_url.
  absl::StatusOr<PromSample> QueryInstant(const std::string& promql,
                                          int64_t at_micros);

 private:
  absl::StatusOr<PromSample> Query(const std::string& promql,
                                   int64_t at_micros) const;
  // `text` with every secret replaced, for error texts.
  std::string Redact(std::string text) const;
  // The start of an answer's body, redacted and printable.
  std::string Snippet(const std::string& body) const;

  PrometheusOptions options_;
  absl::Status config_status_;
  // base_url without credentials or a trailing '/', for error texts.
  std::string display_url_;
  // The bearer token and any password in base_url.
  std::vector<std::string> secrets_;
};

// Validates a --prometheus_url: http:// or https:// with a host, and neither a
// query nor a fragment (the API path is appended to it). INVALID_ARGUMENT
// naming "prometheus_url" otherwise.
absl::Status ValidatePrometheusUrl(const std::string& url);

}  // namespace sightline::metrics
