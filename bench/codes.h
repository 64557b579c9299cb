#pragma once

// Status codes of the load tools' failed calls, by name, so that the bench
// can tell a conflict (ABORTED) from an unavailable dependency.

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "grpcpp/support/status.h"

namespace sightline::bench {

inline const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

// Prints PREFIX_codes=NAME:N,... (every non-OK code seen; "none" if none) and
// PREFIX_aborted=N, the one the bench holds to zero.
inline void PrintCodes(const char* prefix,
                       const std::map<grpc::StatusCode, int64_t>& failed) {
  std::string list;
  int64_t aborted = 0;
  for (const auto& [code, n] : failed) {
    if (!list.empty()) list += ',';
    list += CodeName(code);
    list += ':';
    list += std::to_string(n);
    if (code == grpc::StatusCode::ABORTED) aborted = n;
  }
  std::printf("%s_codes=%s\n%s_aborted=%lld\n", prefix,
              list.empty() ? "none" : list.c_str(), prefix,
              static_cast<long long>(aborted));
}

// --target: one address, or several (replicas) separated by commas.
inline std::vector<std::string> Targets(const std::string& flag) {
  return absl::StrSplit(flag, ',', absl::SkipEmpty());
}

}  // namespace sightline::bench
