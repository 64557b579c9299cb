#include "lib/telemetry/telemetry.h"

#include <exception>

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

void Telemetry::StopExposer() { exposer_.reset(); }

}  // namespace sightline::telemetry
