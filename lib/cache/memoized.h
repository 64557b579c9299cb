#pragma once

// A cached value together with its rendered form (for example the serialized
// answer of a read), computed once by whichever reader needs it first. The
// rendering must be a pure function of the value: entries are immutable, and
// a changed value is a new entry (the cache drops the old one on invalidation).

#include <string>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/functional/function_ref.h"

namespace sightline::cache {

template <typename T>
class Memoized {
 public:
  explicit Memoized(T value) : value_(std::move(value)) {}

  Memoized(const Memoized&) = delete;
  Memoized& operator=(const Memoized&) = delete;

  const T& value() const { return value_; }

  // The rendering of value(); `render` runs at most once per entry.
  const std::string& Rendered(
      absl::FunctionRef<std::string(const T&)> render) const {
    absl::call_once(once_, [&] { rendered_ = render(value_); });
    return rendered_;
  }

 private:
  const T value_;
  mutable absl::once_flag once_;
  mutable std::string rendered_;
};

}  // namespace sightline::cache
