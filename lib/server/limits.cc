#include "lib/server/limits.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"

namespace sightline::server {
namespace {

// The first word of a CamelCase name ("Get" of "GetGoal"); Batch takes the
// word after it too ("BatchGet", "BatchCreate").
absl::string_view Verb(absl::string_view method) {
  auto word_end = [&](size_t from) {
    size_t i = from + 1;
    while (i < method.size() && !absl::ascii_isupper(method[i])) ++i;
    return std::min(i, method.size());
  };
  if (method.empty()) return method;
  size_t end = word_end(0);
  if (method.substr(0, end) == "Batch" && end < method.size())
    end = word_end(end);
  return method.substr(0, end);
}

struct VerbClass {
  absl::string_view verb;
  MethodClass cls;
};

// Every verb the services' RPCs start with. Streams count once, when opened.
constexpr VerbClass kVerbs[] = {
    {"Get", MethodClass::kRead},       {"BatchGet", MethodClass::kRead},
    {"List", MethodClass::kRead},      {"Lookup", MethodClass::kRead},
    {"Query", MethodClass::kRead},     {"Watch", MethodClass::kRead},
    {"Create", MethodClass::kWrite},   {"BatchCreate", MethodClass::kWrite},
    {"Update", MethodClass::kWrite},   {"Delete", MethodClass::kWrite},
    {"Write", MethodClass::kWrite},    {"BatchWrite", MethodClass::kWrite},
    {"Approve", MethodClass::kWrite},  {"Return", MethodClass::kWrite},
    {"Close", MethodClass::kWrite},    {"Acknowledge", MethodClass::kWrite},
    {"Decline", MethodClass::kWrite},  {"React", MethodClass::kWrite},
    {"Complete", MethodClass::kWrite}, {"Sync", MethodClass::kSync},
    {"Import", MethodClass::kSync},
};

}  // namespace

absl::string_view MethodClassName(MethodClass c) {
  switch (c) {
    case MethodClass::kRead:
      return "read";
    case MethodClass::kWrite:
      return "write";
    case MethodClass::kSync:
      return "sync";
  }
  return "write";
}

std::optional<MethodClass> ClassifyMethod(absl::string_view method) {
  absl::string_view verb = Verb(method);
  for (const VerbClass& v : kVerbs) {
    if (v.verb == verb) return v.cls;
  }
  return std::nullopt;
}

MethodClass ClassOf(absl::string_view method) {
  return ClassifyMethod(method).value_or(MethodClass::kWrite);
}

absl::string_view LimitReasonName(LimitReason r) {
  switch (r) {
    case LimitReason::kRate:
      return "rate";
    case LimitReason::kConcurrency:
      return "concurrency";
    case LimitReason::kStreams:
      return "streams";
  }
  return "rate";
}

bool CallerLimitsConfig::enabled() const {
  if (max_concurrent_calls > 0 || max_open_streams > 0) return true;
  for (const RateLimit& r : rate) {
    if (r.per_second > 0) return true;
  }
  return false;
}

CallerLimiter::Permit::Permit(Permit&& other) noexcept
    : shard_(std::exchange(other.shard_, nullptr)),
      count_(std::exchange(other.count_, nullptr)) {}

CallerLimiter::Permit& CallerLimiter::Permit::operator=(
    Permit&& other) noexcept {
  if (this != &other) {
    Release();
    shard_ = std::exchange(other.shard_, nullptr);
    count_ = std::exchange(other.count_, nullptr);
  }
  return *this;
}

void CallerLimiter::Permit::Release() {
  int* count = std::exchange(count_, nullptr);
  if (count == nullptr) return;
  absl::MutexLock lock(&shard_->mu);
  --*count;
}

namespace {

// A class with a rate but no burst gets a bucket of one second's calls (at
// least one call).
CallerLimitsConfig Normalized(CallerLimitsConfig c) {
  for (RateLimit& r : c.rate) {
    if (r.per_second > 0 && r.burst < 1) r.burst = std::max(1.0, r.per_second);
  }
  return c;
}

}  // namespace

CallerLimiter::CallerLimiter(CallerLimitsConfig config, Clock clock)
    : config_(Normalized(std::move(config))),
      clock_(clock ? std::move(clock) : Clock([] { return absl::Now(); })),
      per_shard_(static_cast<size_t>(
          std::max(1, (config_.max_tracked + kShards - 1) / kShards))),
      shards_(new Shard[kShards]) {}

CallerLimiter::~CallerLimiter() = default;

void CallerLimiter::Refill(Bucket& b, MethodClass cls, absl::Time now) const {
  const RateLimit& r = config_.rate[static_cast<int>(cls)];
  // A clock that steps back refills nothing.
  if (now <= b.refilled) return;
  b.tokens = std::min(r.burst, b.tokens + r.per_second * absl::ToDoubleSeconds(
                                                             now - b.refilled));
  b.refilled = now;
}

bool CallerLimiter::Full(Entry& e, absl::Time now) const {
  for (int c = 0; c < kMethodClasses; ++c) {
    if (config_.rate[c].per_second <= 0) continue;
    Refill(e.buckets[c], static_cast<MethodClass>(c), now);
    if (e.buckets[c].tokens < config_.rate[c].burst) return false;
  }
  return true;
}

void CallerLimiter::Evict(Shard& s, absl::Time now) const {
  // First the callers whose entry says nothing a new one would not: no call
  // running, every bucket full again.
  for (auto it = s.callers.begin(); it != s.callers.end();) {
    auto here = it++;
    if (here->second.running == 0 && here->second.streams == 0 &&
        Full(here->second, now))
      s.callers.erase(here);
  }
  if (s.callers.size() < per_shard_) return;
  // Then, down to three quarters (so that the next sweep is far off), the
  // callers idle the longest: they get a full bucket when they come back.
  std::vector<std::pair<absl::Time, const std::string*>> idle;
  for (auto& [caller, e] : s.callers) {
    if (e.running == 0 && e.streams == 0)
      idle.emplace_back(e.last_used, &caller);
  }
  const size_t keep = per_shard_ * 3 / 4;
  if (s.callers.size() <= keep) return;
  size_t drop = std::min(idle.size(), s.callers.size() - keep);
  if (drop == 0) return;
  std::nth_element(idle.begin(), idle.begin() + (drop - 1), idle.end());
  std::vector<std::string> gone;
  gone.reserve(drop);
  for (size_t i = 0; i < drop; ++i) gone.push_back(*idle[i].second);
  for (const std::string& caller : gone) s.callers.erase(caller);
}

CallerLimiter::Decision CallerLimiter::Admit(absl::string_view caller,
                                             MethodClass cls, Slot slot) {
  Decision d;
  const RateLimit& rate = config_.rate[static_cast<int>(cls)];
  int max = 0;
  if (slot == Slot::kUnary) max = config_.max_concurrent_calls;
  if (slot == Slot::kStream) max = config_.max_open_streams;
  const bool cap = max > 0;
  if (rate.per_second <= 0 && !cap) {
    d.admitted = true;
    return d;
  }
  const absl::Time now = clock_();
  Shard& s = shards_[absl::Hash<absl::string_view>()(caller) % kShards];
  absl::MutexLock lock(&s.mu);
  auto it = s.callers.find(caller);
  if (it == s.callers.end()) {
    if (s.callers.size() >= per_shard_) Evict(s, now);
    Entry fresh;
    for (int c = 0; c < kMethodClasses; ++c) {
      fresh.buckets[c].tokens = config_.rate[c].burst;
      fresh.buckets[c].refilled = now;
    }
    it = s.callers.emplace(std::string(caller), fresh).first;
  }
  Entry& e = it->second;
  e.last_used = now;
  int* count = slot == Slot::kStream ? &e.streams : &e.running;
  if (cap && *count >= max) {
    d.reason = slot == Slot::kStream ? LimitReason::kStreams
                                     : LimitReason::kConcurrency;
    d.limit = max;
    return d;
  }
  if (rate.per_second > 0) {
    Bucket& b = e.buckets[static_cast<int>(cls)];
    Refill(b, cls, now);
    if (b.tokens < 1) {
      d.reason = LimitReason::kRate;
      d.limit = rate.per_second;
      d.retry_after = absl::Seconds((1 - b.tokens) / rate.per_second);
      return d;
    }
    b.tokens -= 1;
  }
  d.admitted = true;
  if (cap) {
    ++*count;
    d.permit = Permit(&s, count);
  }
  return d;
}

size_t CallerLimiter::tracked() const {
  size_t n = 0;
  for (int i = 0; i < kShards; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    n += shards_[i].callers.size();
  }
  return n;
}

}  // namespace sightline::server
