// Bearer tokens: the strict JSON reader of token headers and claims, and the
// whole verifier. The first byte chooses what the rest is: a token as a client
// sends it, or the claims of a token signed with the verifier's key (so that
// the claims checks after the signature are reached too).

#include "lib/auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/auth/json.h"

namespace {

using sightline::auth::TokenVerifier;

const std::string& Secret() {
  static const auto* s = new std::string(32, 's');
  return *s;
}

const TokenVerifier& Verifier() {
  static const TokenVerifier* v = [] {
    sightline::auth::VerifierConfig config;
    config.key = Secret();
    config.issuer = "https://id.example.com";
    config.audience = "sightline";
    config.cache_size = 0;  // every input verified, none remembered
    auto made = TokenVerifier::Create(config);
    if (!made.ok()) __builtin_trap();
    return made->release();
  }();
  return *v;
}

std::string Signed(absl::string_view claims) {
  std::string head =
      absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"JWT"})"),
                   ".", absl::WebSafeBase64Escape(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), Secret().data(), static_cast<int>(Secret().size()),
       reinterpret_cast<const unsigned char*>(head.data()), head.size(), mac,
       &n);
  return absl::StrCat(head, ".",
                      absl::WebSafeBase64Escape(absl::string_view(
                          reinterpret_cast<const char*>(mac), n)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto json = sightline::auth::internal::ParseJson(rest);
  if (json.has_value()) (void)json->Find("alg");
  absl::Time now = absl::FromUnixSeconds(1796000000);
  std::string token = data[0] % 2 == 0 ? std::string(rest) : Signed(rest);
  auto p = Verifier().VerifyToken(token, now);
  if (!p.ok() && p.status().code() != absl::StatusCode::kUnauthenticated) {
    __builtin_trap();  // a bad token is UNAUTHENTICATED, nothing else
  }
  if (p.ok() && p->subject.empty()) __builtin_trap();
  (void)Verifier().VerifyAuthorization(absl::StrCat("Bearer ", token), now);
  return 0;
}
