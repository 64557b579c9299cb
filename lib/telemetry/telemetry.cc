#include "lib/telemetry/telemetry.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lib/telemetry/process_collector.h"
#include "prometheus/exposer.h"
#include "prometheus/text_serializer.h"

namespace sightline::telemetry {
namespace {

// The registry plus the process collector, exposed as one collectable.
class Combined : public prometheus::Collectable {
 public:
  Combined(std::shared_ptr<prometheus::Registry> registry,
           std::unique_ptr<ProcessCollector> process)
      : registry_(std::move(registry)), process_(std::move(process)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto out = registry_->Collect();
    auto more = process_->Collect();
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ProcessCollector> process_;
};

// Opens and closes one TCP connection to `addr`, waiting at most 50 ms for
// it: never blocks on a listener whose accept queue is full or a dropped SYN.
// Errors are ignored.
void Knock(const sockaddr_storage& addr, socklen_t len) {
  int fd =
      socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 &&
      errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, 50);
  }
  close(fd);
}

// The host a client reaches a listener on `address` ("host:port") through.
std::string DialHost(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host =
      colon == std::string::npos ? std::string() : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

}  // namespace

Telemetry::Telemetry(std::string service, std::string version)
    : registry_(std::make_shared<prometheus::Registry>()),
      server_metrics_(RpcMetrics::Side::kServer, registry_.get()),
      client_metrics_(RpcMetrics::Side::kClient, registry_.get()),
      combined_(std::make_shared<Combined>(
          registry_, std::make_unique<ProcessCollector>(service, version))) {}

Telemetry::~Telemetry() { StopExposer(); }

absl::Status Telemetry::StartExposer(const std::string& address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
    // Resolved once here, so that stopping needs no name lookup.
    dial_len_ = 0;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int port = metrics_port();
    if (getaddrinfo(DialHost(address).c_str(), std::to_string(port).c_str(),
                    &hints, &found) == 0 &&
        found != nullptr) {
      std::memcpy(&dial_addr_, found->ai_addr, found->ai_addrlen);
      dial_len_ = found->ai_addrlen;
    }
    if (found != nullptr) freeaddrinfo(found);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "metrics_address: cannot listen on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(combined_);
  return absl::OkStatus();
}

int Telemetry::metrics_port() const {
  if (exposer_ == nullptr) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports[0];
}

std::string Telemetry::Scrape() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(combined_->Collect());
}

// civetweb's listener thread waits on its socket in 2 s polls and sees the stop
// request only when a poll returns, so a plain stop took 1-2 s (measured: 1.03
// s on average from SIGTERM to exit of an idle service), paid by every process
// stop. A connection to the listener ends the poll at once.
void Telemetry::StopExposer() {
  if (exposer_ == nullptr) return;
  if (dial_len_ == 0) {  // no address to knock at: the slow stop
    exposer_.reset();
    return;
  }
  std::atomic<bool> stopped{false};
  std::thread knocker;
  try {
    knocker = std::thread([this, &stopped] {
      // At most 2 s of knocking: past that the stop is as slow as without it.
      for (int i = 0; i < 400 && !stopped.load(); ++i) {
        Knock(dial_addr_, dial_len_);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  } catch (const std::system_error&) {
    // No thread to spare: the slow stop.
  }
  exposer_.reset();
  stopped = true;
  if (knocker.joinable()) knocker.join();
}

}  // namespace sightline::telemetry
