#pragma once

// Helpers the files of SqlGoalRepository share (sql_repository.cc defines
// them). Not for use outside the SQL repository.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "services/goals/codec.h"

namespace sightline::goals::internal {

absl::Status Corrupt(absl::string_view what);

// Decodes a column of base64-encoded records.
template <typename Model>
absl::Status DecodeAll(const std::vector<std::string>& data,
                       absl::string_view what, std::vector<Model>* out) {
  for (const auto& d : data) {
    std::string bytes;
    Model m;
    if (!absl::Base64Unescape(d, &bytes) || !Decode(bytes, &m))
      return Corrupt(what);
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

}  // namespace sightline::goals::internal
