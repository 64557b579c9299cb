#pragma once

// Internal to lib/auth: a small strict JSON reader for token headers and
// claims (RFC 8259). protobuf's JSON parser costs ~20 us per token; this one
// costs well under a microsecond. Objects with a repeated member are refused,
// so a header cannot name one `alg` to us and another to libjwt.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace sightline::auth::internal {

struct JsonMember;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::vector<JsonMember> object;  // in input order

  bool is_string() const { return kind == Kind::kString; }
  // The member called `key` of an object, or null.
  const JsonValue* Find(absl::string_view key) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// nullopt unless `text` is exactly one JSON value (surrounding whitespace
// allowed), nested at most 16 deep, with no repeated object member.
std::optional<JsonValue> ParseJson(absl::string_view text);

}  // namespace sightline::auth::internal
