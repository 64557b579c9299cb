#include "services/metrics/prometheus_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "lib/status/status.h"
#include "nlohmann/json.hpp"

namespace sightline::metrics {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kField = "prometheus_url";
constexpr absl::string_view kNotApiJson =
    "prometheus answered something that is not its query API's JSON: ";
constexpr size_t kSnippetBytes = 160;
constexpr size_t kMaxErrorTextBytes = 1000;

void InitCurlOnce() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListDeleter>;

// One part of a parsed URL; empty when absent.
std::string UrlPart(CURLU* u, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, 0) != CURLUE_OK || value == nullptr) {
    return "";
  }
  std::string out(value);
  curl_free(value);
  return out;
}

absl::StatusOr<CurlUrl> ParseUrl(const std::string& url) {
  if (url.empty()) return status::InvalidField(kField, "must be set");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return status::InvalidField(kField,
                                  "must not contain spaces or control bytes");
    }
  }
  CurlUrl u(curl_url());
  if (u == nullptr) return absl::ResourceExhaustedError("curl_url failed");
  const absl::string_view kRule =
      "must be an http:// or https:// URL with a host, e.g. "
      "http://prometheus:9090";
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(),
                   CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return status::InvalidField(kField, kRule);
  }
  std::string scheme =
      absl::AsciiStrToLower(UrlPart(u.get(), CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https") {
    return status::InvalidField(kField, kRule);
  }
  // curl reads "http:///x" as host "x"; a URL with no host is refused here.
  const size_t authority = url.find("://");
  if (authority == std::string::npos || authority != scheme.size() ||
      url.compare(authority + 3, 1, "/") == 0 ||
      UrlPart(u.get(), CURLUPART_HOST).empty()) {
    return status::InvalidField(kField, kRule);
  }
  // The API path is appended to the URL.
  if (!UrlPart(u.get(), CURLUPART_QUERY).empty() ||
      url.find('?') != std::string::npos) {
    return status::InvalidField(kField, "must not have a query (?...)");
  }
  if (!UrlPart(u.get(), CURLUPART_FRAGMENT).empty() ||
      url.find('#') != std::string::npos) {
    return status::InvalidField(kField, "must not have a fragment (#...)");
  }
  return u;
}

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// "1700000000.250000": seconds since the epoch with microseconds.
std::string UnixSeconds(int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  return absl::StrFormat("%d.%06d", secs, frac);
}

struct Body {
  std::string data;
  size_t limit = 0;
  bool too_long = false;
};

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* body = static_cast<Body*>(userdata);
  const size_t n = size * nmemb;
  if (n > body->limit - body->data.size()) {
    body->too_long = true;
    return 0;  // aborts the transfer
  }
  body->data.append(ptr, n);
  return n;
}

// Prometheus' error object: {"status":"error","errorType":..,"error":..}.
bool IsPrometheusError(const Json& j) {
  if (!j.is_object()) return false;
  auto status = j.find("status");
  auto error = j.find("error");
  return status != j.end() && status->is_string() &&
         status->get_ref<const std::string&>() == "error" && error != j.end() &&
         error->is_string();
}

std::string PrometheusErrorText(const Json& j) {
  std::string text = j.find("error")->get<std::string>();
  auto type = j.find("errorType");
  if (type != j.end() && type->is_string() &&
      !type->get_ref<const std::string&>().empty()) {
    absl::StrAppend(&text, " (", type->get_ref<const std::string&>(), ")");
  }
  return text;
}

absl::Status NotApiJson(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat(kNotApiJson, why));
}

// One [<unix seconds>, "<value>"] pair.
absl::StatusOr<PromSample> ParsePoint(const Json& point) {
  if (!point.is_array() || point.size() != 2 || !point[0].is_number() ||
      !point[1].is_string()) {
    return NotApiJson("a sample is not [<time>, \"<value>\"]");
  }
  const double seconds = point[0].get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > 9e12) {
    return NotApiJson("a sample's time is out of range");
  }
  const std::string& text = point[1].get_ref<const std::string&>();
  double value = 0;
  if (text == "NaN") {
    value = std::nan("");
  } else if (text == "+Inf" || text == "Inf") {
    value = HUGE_VAL;
  } else if (text == "-Inf") {
    value = -HUGE_VAL;
  } else if (!absl::SimpleAtod(text, &value)) {
    return NotApiJson(absl::StrCat("a sample's value is not a number: \"",
                                   text.substr(0, kSnippetBytes), "\""));
  }
  if (std::isnan(value)) {
    return absl::NotFoundError("query returned no sample (its value is NaN)");
  }
  if (std::isinf(value)) {
    return absl::FailedPreconditionError(
        absl::StrCat("query returned ", value > 0 ? "+Inf" : "-Inf",
                     ", which is not a number a KPI can take"));
  }
  PromSample sample;
  sample.time_micros = static_cast<int64_t>(std::llround(seconds * 1e6));
  sample.value = value;
  return sample;
}

// The "data" of a successful answer.
absl::StatusOr<PromSample> ParseData(const Json& data) {
  if (!data.is_object()) return NotApiJson("\"data\" is not an object");
  auto type_it = data.find("resultType");
  auto result_it = data.find("result");
  if (type_it == data.end() || !type_it->is_string() ||
      result_it == data.end()) {
    return NotApiJson("\"data\" lacks \"resultType\" or \"result\"");
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  const Json& result = *result_it;
  if (type == "scalar") return ParsePoint(result);
  if (type == "vector") {
    if (!result.is_array()) return NotApiJson("a vector result is not a list");
    if (result.empty()) {
      return absl::NotFoundError("query returned no sample (no series)");
    }
    if (result.size() > 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("query returned ", result.size(),
                       " series; aggregate it to one, e.g. sum(...)"));
    }
    const Json& series = result[0];
    if (!series.is_object()) return NotApiJson("a series is not an object");
    auto value = series.find("value");
    if (value != series.end()) return ParsePoint(*value);
    if (series.contains("histogram")) {
      return absl::FailedPreconditionError(
          "query returned a native histogram, not a number; use e.g. "
          "histogram_quantile(0.99, ...) or histogram_count(...)");
    }
    return NotApiJson("a series has no \"value\"");
  }
  if (type == "matrix") {
    return absl::FailedPreconditionError(
        "query returned a range vector; a KPI needs an instant expression, "
        "e.g. rate(x[5m]) instead of x[5m]");
  }
  if (type == "string") {
    return absl::FailedPreconditionError(
        "query returned a string, not a number");
  }
  return NotApiJson(absl::StrCat("unknown resultType \"",
                                 type.substr(0, kSnippetBytes), "\""));
}

}  // namespace

absl::Status ValidatePrometheusUrl(const std::string& url) {
  return ParseUrl(url).status();
}

PrometheusClient::PrometheusClient(PrometheusOptions options)
    : options_(std::move(options)) {
  InitCurlOnce();
  if (!options_.bearer_token.empty()) {
    secrets_.push_back(options_.bearer_token);
  }
  auto url = ParseUrl(options_.base_url);
  if (!url.ok()) {
    config_status_ = url.status();
    return;
  }
  std::string password = UrlPart(url->get(), CURLUPART_PASSWORD);
  if (!password.empty()) secrets_.push_back(password);
  curl_url_set(url->get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(url->get(), CURLUPART_PASSWORD, nullptr, 0);
  display_url_ = StripTrailingSlashes(UrlPart(url->get(), CURLUPART_URL));
  if (options_.bearer_token.find_first_of("\r\n") != std::string::npos) {
    config_status_ =
        status::InvalidField("bearer_token", "must not contain line breaks");
  }
}

std::string PrometheusClient::Redact(std::string text) const {
  for (const std::string& secret : secrets_) {
    absl::StrReplaceAll({{secret, "<redacted>"}}, &text);
  }
  return text;
}

std::string PrometheusClient::Snippet(const std::string& body) const {
  if (body.empty()) return "(empty body)";
  std::string text = Redact(body);
  const bool cut = text.size() > kSnippetBytes;
  text.resize(std::min(text.size(), kSnippetBytes));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = ' ';
  }
  return absl::StrCat("\"", text, cut ? "...\"" : "\"");
}

absl::StatusOr<PromSample> PrometheusClient::QueryInstant(
    const std::string& promql, int64_t at_micros) {
  absl::StatusOr<PromSample> result = Query(promql, at_micros);
  if (result.ok()) return result;
  // Every text that came from the network passes through here.
  std::string message = Redact(std::string(result.status().message()));
  if (message.size() > kMaxErrorTextBytes) {
    message.resize(kMaxErrorTextBytes);
    message += "...";
  }
  absl::Status redacted(result.status().code(), message);
  result.status().ForEachPayload(
      [&](absl::string_view type_url, const absl::Cord& payload) {
        redacted.SetPayload(type_url, payload);
      });
  return redacted;
}

absl::StatusOr<PromSample> PrometheusClient::Query(const std::string& promql,
                                                   int64_t at_micros) const {
  if (!config_status_.ok()) return config_status_;
  if (promql.empty()) return status::InvalidField("promql", "must be set");

  CurlEasy curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  char* escaped = curl_easy_escape(curl.get(), promql.data(),
                                   static_cast<int>(promql.size()));
  if (escaped == nullptr) return absl::InternalError("curl_easy_escape failed");
  const std::string url = absl::StrCat(StripTrailingSlashes(options_.base_url),
                                       "/api/v1/query?query=", escaped,
                                       "&time=", UnixSeconds(at_micros));
  curl_free(escaped);

  CurlList headers(curl_slist_append(nullptr, "Accept: application/json"));
  if (headers == nullptr) return absl::InternalError("curl_slist_append");
  if (!options_.bearer_token.empty()) {
    const std::string auth =
        absl::StrCat("Authorization: Bearer ", options_.bearer_token);
    curl_slist* more = curl_slist_append(headers.get(), auth.c_str());
    if (more == nullptr) return absl::InternalError("curl_slist_append");
    headers.release();
    headers.reset(more);
  }

  long timeout_ms = 0;  // NOLINT(runtime/int): curl's type; 0 = none
  if (options_.timeout != absl::InfiniteDuration()) {
    timeout_ms = static_cast<long>(  // NOLINT(runtime/int)
        std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.timeout)));
  }
  Body body;
  body.limit = options_.max_response_bytes;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // Redirects are not followed: the token stays with the configured server.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  // No signals from resolver timeouts: this runs on any thread.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "sightline-metrics");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(body.limit));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);

  const CURLcode rc = curl_easy_perform(c);
  if (body.too_long || rc == CURLE_FILESIZE_EXCEEDED) {
    return absl::UnavailableError(
        absl::StrCat("prometheus at ", display_url_, " answered more than ",
                     body.limit, " bytes; the answer was not read"));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "query to prometheus at ", display_url_,
        " failed: ", error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  long http = 0;  // NOLINT(runtime/int): curl's type
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);

  const Json json = Json::parse(body.data, nullptr, /*allow_exceptions=*/false);
  if (http >= 500) {
    return absl::UnavailableError(absl::StrCat(
        "prometheus at ", display_url_, " answered HTTP ", http, ": ",
        IsPrometheusError(json) ? PrometheusErrorText(json)
                                : Snippet(body.data)));
  }
  if (http >= 400) {
    if (IsPrometheusError(json)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prometheus refused the query: ", PrometheusErrorText(json)));
    }
    return NotApiJson(absl::StrCat("HTTP ", http, " from ", display_url_,
                                   " with body ", Snippet(body.data)));
  }
  if (http < 200 || http >= 300) {
    return absl::UnavailableError(absl::StrCat(
        "prometheus at ", display_url_, " answered HTTP ", http,
        http >= 300 && http < 400 ? " (redirects are not followed)" : ""));
  }
  if (json.is_discarded() || !json.is_object()) {
    return NotApiJson(absl::StrCat("HTTP ", http, " from ", display_url_,
                                   " with body ", Snippet(body.data)));
  }
  if (IsPrometheusError(json)) {
    return absl::UnavailableError(
        absl::StrCat("prometheus at ", display_url_, " answered HTTP ", http,
                     " with an error: ", PrometheusErrorText(json)));
  }
  auto status = json.find("status");
  auto data = json.find("data");
  if (status == json.end() || !status->is_string() ||
      status->get_ref<const std::string&>() != "success" ||
      data == json.end()) {
    return NotApiJson(absl::StrCat(
        "no \"status\":\"success\" with \"data\" in ", Snippet(body.data)));
  }
  absl::StatusOr<PromSample> sample = ParseData(*data);
  if (!sample.ok() &&
      absl::StartsWith(sample.status().message(), kNotApiJson)) {
    return absl::UnavailableError(
        absl::StrCat(sample.status().message(), " in ", Snippet(body.data)));
  }
  return sample;
}

}  // namespace sightline::metrics
