#pragma once

// The SCIM endpoint's HTTP server (cpp-httplib): requests under /scim/v2 are
// handed to a ScimHandler on the server's own threads, never on gRPC's.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/people/scim_handler.h"

namespace httplib {
class Server;
}
namespace prometheus {
class Registry;
}

namespace sightline::people {

class ScimServer {
 public:
  // Listens on host:port (port 0: any free port) and serves until Stop().
  // With a registry, counts requests in sightline_scim_requests_total.
  static absl::StatusOr<std::unique_ptr<ScimServer>> Start(
      const std::string& host, int port, ScimHandler* handler,
      prometheus::Registry* registry = nullptr);
  ~ScimServer();

  int port() const { return port_; }
  // Stops accepting, finishes requests in flight, joins the thread.
  void Stop();

 private:
  ScimServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sightline::people
