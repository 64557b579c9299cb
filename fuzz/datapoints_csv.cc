// A data-point file as `sightline import-datapoints` reads it.

#include "tools/cli/datapoints_csv.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = sightline::cli::ReadDataPoints(text);
  if (file.ok()) {
    for (const auto& p : file->points) {
      if (p.kpi.rfind("kpis/", 0) != 0 || p.line < 2) __builtin_trap();
    }
  }
  return 0;
}
