#include "services/people/scim_server.h"

#include <httplib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lib/telemetry/log.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace sightline::people {
namespace {

constexpr char kBase[] = "/scim/v2";
constexpr size_t kMaxBody = 1 << 20;

// Labels are bounded: known resources and methods only, never an id.
std::string ResourceLabel(const std::vector<std::string>& parts) {
  if (parts.empty()) return "other";
  for (const char* known : {"Users", "Groups", "ServiceProviderConfig",
                            "Schemas", "ResourceTypes"}) {
    if (parts[0] == known) return known;
  }
  return "other";
}

void Serve(ScimHandler* handler,
           prometheus::Family<prometheus::Counter>* requests,
           const httplib::Request& req, httplib::Response& res) {
  absl::Time start = absl::Now();
  ScimRequest r;
  r.method = req.method;
  r.path = req.path.substr(sizeof(kBase) - 1);
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  r.authorization = req.get_header_value("Authorization");
  r.if_match = req.get_header_value("If-Match");
  r.idempotency_key = req.get_header_value("Idempotency-Key");
  r.body = req.body;
  std::string host = req.get_header_value("Host");
  r.base = absl::StrCat("http://", host.empty() ? "localhost" : host, kBase);
  ScimResponse out = handler->Handle(r);
  res.status = out.status;
  if (!out.etag.empty()) res.set_header("ETag", out.etag);
  if (!out.location.empty()) res.set_header("Location", out.location);
  if (out.status == 401) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"sightline\"");
  }
  if (!out.body.empty()) {
    res.set_content(out.body, "application/scim+json");
  }
  // One line per request, as for RPCs: the route, never an id, a filter, the
  // token or the body.
  std::vector<std::string> parts =
      absl::StrSplit(r.path, '/', absl::SkipEmpty());
  std::string route =
      absl::StrCat("SCIM ", req.method, " /", parts.empty() ? "" : parts[0],
                   parts.size() > 1 ? "/{id}" : "");
  if (requests != nullptr) {
    requests
        ->Add({{"method", req.method},
               {"resource", ResourceLabel(parts)},
               {"code", absl::StrCat(out.status)}})
        .Increment();
  }
  telemetry::LogRpc(
      out.status >= 500 ? telemetry::Level::kError : telemetry::Level::kInfo,
      route, absl::StrCat(out.status),
      absl::ToInt64Microseconds(absl::Now() - start), out.principal, "", "");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScimServer>> ScimServer::Start(
    const std::string& host, int port, ScimHandler* handler,
    prometheus::Registry* registry) {
  std::unique_ptr<ScimServer> s(new ScimServer());
  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& srv = *s->server_;
  srv.set_payload_max_length(kMaxBody);
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  if (registry != nullptr) {
    requests = &prometheus::BuildCounter()
                    .Name("sightline_scim_requests_total")
                    .Help(
                        "SCIM requests by HTTP method, resource type and "
                        "HTTP status.")
                    .Register(*registry);
  }
  auto route = [handler, requests](const httplib::Request& req,
                                   httplib::Response& res) {
    Serve(handler, requests, req, res);
  };
  const std::string pattern = absl::StrCat(kBase, "(/.*)?");
  srv.Get(pattern, route);
  srv.Post(pattern, route);
  srv.Put(pattern, route);
  srv.Patch(pattern, route);
  srv.Delete(pattern, route);
  if (port == 0) {
    s->port_ = srv.bind_to_any_port(host);
    if (s->port_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("--scim_port: cannot listen on ", host));
    }
  } else {
    if (!srv.bind_to_port(host, port)) {
      return absl::UnavailableError(
          absl::StrCat("--scim_port: cannot listen on ", host, ":", port));
    }
    s->port_ = port;
  }
  s->thread_ = std::thread([&srv] { srv.listen_after_bind(); });
  return s;
}

ScimServer::~ScimServer() { Stop(); }

void ScimServer::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace sightline::people
