#pragma once

// What every fuzz target asserts of a parser's answer.

#include "absl/status/status.h"

namespace sightline::fuzz {

// A broken invariant: libFuzzer reports the input.
inline void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Untrusted input is refused as the client's mistake, never as anything else.
inline void CheckClientError(const absl::Status& st) {
  Check(st.ok() || st.code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace sightline::fuzz
