// sightline-people: the org directory service.

#include "absl/flags/flag.h"
#include "lib/server/service_main.h"
#include "services/people/cached_repository.h"
#include "services/people/people_handler.h"
#include "services/people/people_service.h"
#include "services/people/scim_handler.h"
#include "services/people/scim_server.h"
#include "services/people/sql_repository.h"

ABSL_FLAG(double, mass_termination_share, 0.2,
          "A FULL sync may terminate at most this share of active people "
          "unless it sets "
          "allow_mass_termination.");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Minutes(10),
          "Lifetime of cached directory reads.");
ABSL_FLAG(
    absl::Duration, change_poll_interval, absl::Milliseconds(200),
    "How often Watch streams look for changes committed by other replicas.");
ABSL_FLAG(int, local_cache_entries, 100000,
          "People kept in process memory in front of Redis (0: none). Commits "
          "of other "
          "replicas are seen within --change_poll_interval.");

ABSL_FLAG(int, scim_port, 0,
          "Port of the SCIM 2.0 endpoint (HTTP, /scim/v2), on the host of "
          "--grpc_address; 0: no SCIM endpoint.");

using namespace sightline;  // NOLINT: main wires parts from every namespace

int main(int argc, char** argv) {
  int code = 0;
  auto base = server::ServiceBase::Create(
      {"people", "127.0.0.1:50051", "127.0.0.1:9451", "var/people.db"}, argc,
      argv,
      []() -> absl::StatusOr<server::ServiceOptions> {
        double share = absl::GetFlag(FLAGS_mass_termination_share);
        if (share < 0 || share > 1) {
          return absl::InvalidArgumentError(
              "--mass_termination_share: must be within 0..1");
        }
        int scim_port = absl::GetFlag(FLAGS_scim_port);
        if (scim_port < 0 || scim_port > 65535) {
          return absl::InvalidArgumentError(
              "--scim_port: must be within 0..65535");
        }
        cache::CacheOptions entities;
        entities.ns = "people";
        entities.ttl = absl::GetFlag(FLAGS_cache_ttl);
        cache::CacheOptions chains = entities;
        chains.ns = "people-chains";
        return server::ServiceOptions{
            .migrations = &people::PeopleMigrations(),
            .caches = {entities, chains},
            .change_poll_interval = absl::GetFlag(FLAGS_change_poll_interval)};
      },
      &code);
  if (base == nullptr) return code;

  people::SqlPeopleRepository sql_repo(base->db());
  people::CachedPeopleRepository repo(
      &sql_repo, base->cache(0), base->cache(1),
      static_cast<size_t>(absl::GetFlag(FLAGS_local_cache_entries)));
  repo.ExportMetrics(&base->registry());
  people::PeopleOptions options;
  options.policy.mass_termination_share =
      absl::GetFlag(FLAGS_mass_termination_share);
  people::PeopleService service(&repo, std::move(options));

  // Any commit (ours, or another replica's found by polling) may have changed
  // people: what this process holds in memory is dropped.
  base->feed()->Subscribe([&repo](int64_t) { repo.ClearLocal(); });
  people::PeopleHandler handler(base->runtime(), &service,
                                base->WatchDeps("people"));

  people::ScimHandler scim(&service, &base->runtime()->verifier());
  std::unique_ptr<people::ScimServer> scim_server;
  if (int port = absl::GetFlag(FLAGS_scim_port); port != 0) {
    const std::string& grpc = base->config().grpc_address;
    std::string host = grpc.substr(0, grpc.rfind(':'));
    auto started =
        people::ScimServer::Start(host, port, &scim, &base->registry());
    if (!started.ok()) return server::ExitWithError("scim", started.status());
    scim_server = std::move(*started);
  }
  return base->Serve(&handler, "sightline.people.v1.PeopleService",
                     {[&scim_server] {
                       if (scim_server != nullptr) scim_server->Stop();
                     }});
}
