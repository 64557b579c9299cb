#include "lib/telemetry/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace sightline::telemetry {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double v) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
  return f;
}

struct Stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double vsize = 0;
  double rss_pages = 0;
  double threads = 0;
  double starttime_ticks = 0;
};

bool ReadStat(Stat* out) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // The command name may contain spaces: fields start after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(line).substr(close + 2), ' ');
  // f[0] is field 3 (state) of proc(5).
  auto at = [&](int field) -> double {
    double v = 0;
    size_t i = static_cast<size_t>(field - 3);
    if (i < f.size()) (void)absl::SimpleAtod(f[i], &v);
    return v;
  };
  out->utime_ticks = at(14);
  out->stime_ticks = at(15);
  out->threads = at(20);
  out->starttime_ticks = at(22);
  out->vsize = at(23);
  out->rss_pages = at(24);
  return true;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

double OpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  double n = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the directory stream itself
}

}  // namespace

ProcessCollector::ProcessCollector(std::string service, std::string version)
    : service_(std::move(service)), version_(std::move(version)) {
  Stat s;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  start_time_seconds_ = ReadStat(&s) && ticks > 0
                            ? BootTimeSeconds() + s.starttime_ticks / ticks
                            : absl::ToUnixSeconds(absl::Now());
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  Stat s;
  if (ReadStat(&s)) {
    double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    prometheus::MetricFamily cpu;
    cpu.name = "process_cpu_seconds_total";
    cpu.help = "Total user and system CPU time spent in seconds.";
    cpu.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric m;
    m.counter.value = (s.utime_ticks + s.stime_ticks) / ticks;
    cpu.metric.push_back(m);
    out.push_back(std::move(cpu));
    out.push_back(
        Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              s.rss_pages * static_cast<double>(sysconf(_SC_PAGESIZE))));
    out.push_back(Gauge("process_virtual_memory_bytes",
                        "Virtual memory size in bytes.", s.vsize));
    out.push_back(Gauge("sightline_process_threads",
                        "Number of OS threads in the process.", s.threads));
  }
  out.push_back(Gauge("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.",
                      start_time_seconds_));
  out.push_back(
      Gauge("process_open_fds", "Number of open file descriptors.", OpenFds()));
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    out.push_back(Gauge("process_max_fds",
                        "Maximum number of open file descriptors.",
                        static_cast<double>(rl.rlim_cur)));
  }
  prometheus::MetricFamily info =
      Gauge("sightline_build_info",
            "Which Sightline service and version is running.", 1);
  info.metric[0].label = {{"service", service_}, {"version", version_}};
  out.push_back(std::move(info));
  return out;
}

long ResidentMemoryBytes() {
  Stat s;
  if (!ReadStat(&s)) return 0;
  return static_cast<long>(s.rss_pages) * sysconf(_SC_PAGESIZE);
}

}  // namespace sightline::telemetry
