// Page and resume tokens as clients hand them back. The input is a token; it
// is decoded as every kind the server issues, and a payload minted from the
// same bytes must come back unchanged.

#include "lib/storage/tokens.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sightline::storage;
  static const TokenCodec codec(std::string(32, 'k'));
  std::string input(reinterpret_cast<const char*>(data), size);

  // Untrusted tokens: never accepted unless minted with the key.
  auto page = DecodePageToken(codec, "ListGoals", "a|b", input);
  auto resume = DecodeResumeToken(codec, "people", input);
  auto raw = codec.Decode("page:ListGoals", input, "page_token");
  if (!page.ok()) {
    Check(page.status().code() == absl::StatusCode::kInvalidArgument);
  }
  if (!resume.ok()) {
    Check(resume.status().code() == absl::StatusCode::kInvalidArgument);
  }
  if (!raw.ok()) {
    Check(raw.status().code() == absl::StatusCode::kInvalidArgument);
  }

  // Minted tokens round-trip, and are bound to their method and filters.
  std::string token = EncodePageToken(codec, "ListGoals", "a|b", input);
  auto back = DecodePageToken(codec, "ListGoals", "a|b", token);
  Check(back.ok() && *back == input);
  Check(!DecodePageToken(codec, "ListGoals", "a|c", token).ok());
  Check(!DecodePageToken(codec, "ListCycles", "a|b", token).ok());
  Check(!DecodeResumeToken(codec, "people", token).ok());
  if (size >= 8) {
    int64_t seq = 0;
    for (int i = 0; i < 8; ++i) seq = (seq << 8) | data[i];
    if (seq >= 0) {
      auto r = DecodeResumeToken(codec, "people",
                                 EncodeResumeToken(codec, "people", seq));
      Check(r.ok() && *r == seq);
    }
  }
  return 0;
}
