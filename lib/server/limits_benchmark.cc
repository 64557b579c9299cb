// The cost of the limits per caller on one call: Admit (and the release of
// its slot) for one caller from one or two threads, and for many callers.
//
//   cmake --build build --target limits_benchmark &&
//   build/lib/server/limits_benchmark

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "lib/server/limits.h"

namespace sightline::server {
namespace {

CallerLimitsConfig Deployed() {
  CallerLimitsConfig c;
  // Rates out of reach, so that every call is admitted and pays the full path.
  for (RateLimit& r : c.rate) r = {1e9, 1e9};
  c.max_concurrent_calls = 1000000;
  return c;
}

void BM_Off(benchmark::State& state) {
  static CallerLimiter limiter{CallerLimitsConfig{}};
  for (auto _ : state) {
    auto d = limiter.Admit("ada@example.com", MethodClass::kRead, true);
    benchmark::DoNotOptimize(d.admitted);
  }
}
BENCHMARK(BM_Off);

void BM_RateOnly(benchmark::State& state) {
  static CallerLimiter limiter{[] {
    CallerLimitsConfig c = Deployed();
    c.max_concurrent_calls = 0;
    return c;
  }()};
  for (auto _ : state) {
    auto d = limiter.Admit("ada@example.com", MethodClass::kRead, true);
    benchmark::DoNotOptimize(d.admitted);
  }
}
BENCHMARK(BM_RateOnly)->Threads(1)->Threads(2);

// What a unary call pays with the defaults: a token and a slot, given back.
void BM_RateAndSlot(benchmark::State& state) {
  static CallerLimiter limiter{Deployed()};
  for (auto _ : state) {
    auto d = limiter.Admit("ada@example.com", MethodClass::kRead, true);
    d.permit.Release();
    benchmark::DoNotOptimize(d.admitted);
  }
}
BENCHMARK(BM_RateAndSlot)->Threads(1)->Threads(2);

void BM_RateAndSlotManyCallers(benchmark::State& state) {
  static CallerLimiter limiter{Deployed()};
  std::vector<std::string> callers;
  for (int i = 0; i < 10000; ++i)
    callers.push_back(absl::StrCat("person-", i, "@example.com"));
  size_t i = state.thread_index();
  for (auto _ : state) {
    auto d =
        limiter.Admit(callers[i++ % callers.size()], MethodClass::kWrite, true);
    d.permit.Release();
    benchmark::DoNotOptimize(d.admitted);
  }
}
BENCHMARK(BM_RateAndSlotManyCallers)->Threads(1)->Threads(2);

}  // namespace
}  // namespace sightline::server

int main(int argc, char** argv) {
  // As the services run (LoadConfig): Debian's Abseil checks every lock for
  // deadlocks unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
