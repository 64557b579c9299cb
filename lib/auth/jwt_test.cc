#include "lib/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/testing/harness.h"
#include "lib/testing/status_matchers.h"

namespace sightline::auth {
namespace {

using ::sightline::testing::IsOk;
using ::sightline::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::StatusCode kUnauthenticated =
    absl::StatusCode::kUnauthenticated;
constexpr absl::StatusCode kInvalidArgument =
    absl::StatusCode::kInvalidArgument;

const std::string kSecret = "test-secret-0123456789abcdef-0123456789";
const std::string kOtherSecret = "another-secret-0123456789abcdef-987654";
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr char kIssuer[] = "https://issuer.sightline.test";
constexpr char kAudience[] = "sightline";

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

// A token built by hand, for what Mint will not produce.
std::string CraftHs256(absl::string_view header_json,
                       absl::string_view payload_json,
                       absl::string_view key = kSecret) {
  std::string input = absl::StrCat(B64(header_json), ".", B64(payload_json));
  return absl::StrCat(input, ".", B64(HmacSha256(key, input)));
}

// Claims that pass the default verifier, with `extra` JSON members appended.
std::string Payload(absl::string_view extra = "") {
  return absl::StrCat(R"({"sub":"alice@example.com","iss":")", kIssuer,
                      R"(","aud":")", kAudience, R"(","exp":)",
                      absl::ToUnixSeconds(kNow + absl::Hours(1)), extra, "}");
}

constexpr char kHs256Header[] = R"({"alg":"HS256","typ":"JWT"})";

struct RsaKeys {
  std::string private_pem;
  std::string public_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

RsaKeys GenerateRsaKeys(int bits) {
  RsaKeys keys;
  EVP_PKEY* key = EVP_RSA_gen(bits);
  if (key == nullptr) return keys;
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr,
                               nullptr) == 1 &&
      PEM_write_bio_PUBKEY(pub, key) == 1) {
    keys.private_pem = BioText(priv);
    keys.public_pem = BioText(pub);
  }
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return keys;
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rsa_ = new RsaKeys(GenerateRsaKeys(2048)); }
  static void TearDownTestSuite() {
    delete rsa_;
    rsa_ = nullptr;
  }
  void SetUp() override {
    ASSERT_THAT(rsa_->public_pem, HasSubstr("BEGIN PUBLIC KEY"));
  }

  static MintOptions Options() {
    MintOptions o;
    o.key = kSecret;
    o.subject = "alice@example.com";
    o.roles = {Role::kEmployee, Role::kManager};
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.issued_at = kNow - absl::Minutes(1);
    o.ttl = absl::Hours(1);
    return o;
  }

  static VerifierConfig Config() {
    VerifierConfig c;
    c.key = kSecret;
    c.issuer = kIssuer;
    c.audience = kAudience;
    return c;
  }

  static std::string MustMint(const MintOptions& options) {
    absl::StatusOr<std::string> token = Mint(options);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  static std::unique_ptr<TokenVerifier> MustCreate(VerifierConfig config) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> v =
        TokenVerifier::Create(std::move(config));
    EXPECT_THAT(v, IsOk());
    return v.ok() ? *std::move(v) : nullptr;
  }

  static MintOptions RsaOptions() {
    MintOptions o = Options();
    o.algorithm = Algorithm::kRS256;
    o.key = rsa_->private_pem;
    return o;
  }

  static VerifierConfig RsaConfig() {
    VerifierConfig c = Config();
    c.algorithm = Algorithm::kRS256;
    c.key = rsa_->public_pem;
    return c;
  }

  static RsaKeys* rsa_;
};

RsaKeys* JwtTest::rsa_ = nullptr;

TEST(AlgorithmTest, ParsesExactNames) {
  EXPECT_EQ(*ParseAlgorithm("HS256"), Algorithm::kHS256);
  EXPECT_EQ(*ParseAlgorithm("RS256"), Algorithm::kRS256);
  EXPECT_THAT(ParseAlgorithm("hs256"), StatusIs(kInvalidArgument));
  EXPECT_THAT(ParseAlgorithm("none"), StatusIs(kInvalidArgument));
  EXPECT_THAT(ParseAlgorithm("ES256"),
              StatusIs(kInvalidArgument, HasSubstr("algorithm")));
}

TEST_F(JwtTest, Hs256RoundTripWithRoles) {
  auto verifier = MustCreate(Config());
  std::string token = MustMint(Options());
  absl::StatusOr<Principal> p =
      verifier->VerifyAuthorization("Bearer " + token, kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->subject, "alice@example.com");
  EXPECT_THAT(p->roles, ElementsAre(Role::kEmployee, Role::kManager));
  EXPECT_EQ(p->expires, kNow - absl::Minutes(1) + absl::Hours(1));
  EXPECT_TRUE(p->HasRole(Role::kManager));
  EXPECT_FALSE(p->IsService());
}

TEST_F(JwtTest, SchemeIsCaseInsensitive) {
  auto verifier = MustCreate(Config());
  std::string token = MustMint(Options());
  for (std::string header :
       {"bearer " + token, "BEARER  " + token, " Bearer\t" + token + " "}) {
    EXPECT_THAT(verifier->VerifyAuthorization(header, kNow), IsOk()) << header;
  }
}

TEST_F(JwtTest, Rs256RoundTrip) {
  auto verifier = MustCreate(RsaConfig());
  MintOptions o = RsaOptions();
  o.subject = "people/svc-reports";
  o.roles = {Role::kService};
  absl::StatusOr<Principal> p =
      verifier->VerifyAuthorization("Bearer " + MustMint(o), kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->subject, "people/svc-reports");
  EXPECT_TRUE(p->IsService());
}

TEST_F(JwtTest, MissingRolesClaimMeansNoRoles) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.roles.clear();
  absl::StatusOr<Principal> p = verifier->VerifyToken(MustMint(o), kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(p->roles, IsEmpty());
  EXPECT_FALSE(p->HasRole(Role::kEmployee));
}

TEST_F(JwtTest, RolesAsSpaceSeparatedString) {
  auto verifier = MustCreate(Config());
  std::string token = CraftHs256(
      kHs256Header, Payload(R"(,"roles":" hr_admin  employee hr_admin")"));
  absl::StatusOr<Principal> p = verifier->VerifyToken(token, kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_THAT(p->roles, ElementsAre(Role::kHrAdmin, Role::kEmployee));
}

TEST_F(JwtTest, MissingOrForeignScheme) {
  auto verifier = MustCreate(Config());
  std::string token = MustMint(Options());
  for (std::string header :
       {std::string(), std::string("Bearer"), std::string("Bearer   "),
        std::string("Basic dXNlcjpwYXNzd29yZA=="), token, "Bearertoken" + token,
        "Token " + token}) {
    EXPECT_THAT(verifier->VerifyAuthorization(header, kNow),
                StatusIs(kUnauthenticated, "missing bearer token"))
        << header;
  }
  EXPECT_THAT(verifier->VerifyToken("", kNow),
              StatusIs(kUnauthenticated, "missing bearer token"));
}

TEST_F(JwtTest, GarbageIsMalformed) {
  auto verifier = MustCreate(Config());
  for (std::string token : std::vector<std::string>{
           "not-a-jwt", "a.b.c", "a.b", "...", "!!!.###.$$$", "e30.e30.e30.e30",
           B64("not json") + "." + B64("{}") + ".c2ln",
           B64(kHs256Header) + ".." + "c2ln", std::string(9000, 'a')}) {
    EXPECT_THAT(verifier->VerifyToken(token, kNow),
                StatusIs(kUnauthenticated, "malformed token"))
        << token.substr(0, 80);
  }
}

TEST_F(JwtTest, SignedGarbageClaimsAreMalformed) {
  auto verifier = MustCreate(Config());
  for (absl::string_view payload : {"[1,2]", "\"alice\"", "{\"sub\":", "",
                                    R"({"sub":"a","sub":"b","exp":1})"}) {
    EXPECT_THAT(verifier->VerifyToken(CraftHs256(kHs256Header, payload), kNow),
                StatusIs(kUnauthenticated, "malformed token"))
        << payload;
  }
  EXPECT_THAT(verifier->VerifyToken(
                  B64(kHs256Header) + "." + B64("[1,2]") + ".c2ln", kNow),
              StatusIs(kUnauthenticated, "malformed token"));
}

TEST_F(JwtTest, TruncatedToken) {
  auto verifier = MustCreate(Config());
  std::string token = MustMint(Options());
  EXPECT_THAT(verifier->VerifyToken(token.substr(0, token.size() - 4), kNow),
              StatusIs(kUnauthenticated, "bad signature"));
  EXPECT_THAT(verifier->VerifyToken(token.substr(0, token.rfind('.')), kNow),
              StatusIs(kUnauthenticated, "malformed token"));
  EXPECT_THAT(verifier->VerifyToken(token.substr(0, token.size() / 3), kNow),
              StatusIs(kUnauthenticated));
}

TEST_F(JwtTest, SignatureByOtherSecret) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.key = kOtherSecret;
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "bad signature"));
}

TEST_F(JwtTest, TamperedClaimsBreakSignature) {
  auto verifier = MustCreate(Config());
  std::vector<std::string> parts = absl::StrSplit(MustMint(Options()), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string forged = absl::StrCat(
      parts[0], ".", B64(Payload(R"(,"roles":["hr_admin"])")), ".", parts[2]);
  EXPECT_THAT(verifier->VerifyToken(forged, kNow),
              StatusIs(kUnauthenticated, "bad signature"));
}

TEST_F(JwtTest, ExpiryHonoursLeeway) {
  auto verifier = MustCreate(Config());
  std::string token = MustMint(Options());
  absl::Time exp = kNow - absl::Minutes(1) + absl::Hours(1);
  EXPECT_THAT(verifier->VerifyToken(token, exp + absl::Seconds(29)), IsOk());
  EXPECT_THAT(verifier->VerifyToken(token, exp + absl::Seconds(30)),
              StatusIs(kUnauthenticated, "token expired"));
  EXPECT_THAT(verifier->VerifyToken(token, exp + absl::Hours(5)),
              StatusIs(kUnauthenticated, "token expired"));

  VerifierConfig strict = Config();
  strict.leeway = absl::ZeroDuration();
  strict.cache_size = 0;
  auto strict_verifier = MustCreate(strict);
  EXPECT_THAT(strict_verifier->VerifyToken(token, exp - absl::Seconds(1)),
              IsOk());
  EXPECT_THAT(strict_verifier->VerifyToken(token, exp),
              StatusIs(kUnauthenticated, "token expired"));
}

TEST_F(JwtTest, NotBeforeInTheFuture) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.not_before = kNow + absl::Minutes(5);
  std::string token = MustMint(o);
  EXPECT_THAT(verifier->VerifyToken(token, kNow),
              StatusIs(kUnauthenticated, "token not yet valid"));
  EXPECT_THAT(verifier->VerifyToken(token, *o.not_before - absl::Seconds(31)),
              StatusIs(kUnauthenticated, "token not yet valid"));
  EXPECT_THAT(verifier->VerifyToken(token, *o.not_before - absl::Seconds(29)),
              IsOk());
}

TEST_F(JwtTest, MissingExpiryIsRefused) {
  auto verifier = MustCreate(Config());
  std::string token = CraftHs256(
      kHs256Header, absl::StrCat(R"({"sub":"alice","iss":")", kIssuer,
                                 R"(","aud":")", kAudience, R"("})"));
  EXPECT_THAT(verifier->VerifyToken(token, kNow),
              StatusIs(kUnauthenticated, "missing expiry"));
  std::string text_exp =
      CraftHs256(kHs256Header, R"({"sub":"alice","exp":"tomorrow"})");
  EXPECT_THAT(verifier->VerifyToken(text_exp, kNow),
              StatusIs(kUnauthenticated, "malformed token"));
}

TEST_F(JwtTest, FractionalNumericDatesAreAccepted) {
  auto verifier = MustCreate(Config());
  std::string token = CraftHs256(
      kHs256Header,
      absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":")",
                   kAudience, R"(","exp":)",
                   absl::ToUnixSeconds(kNow + absl::Minutes(10)), ".5}"));
  absl::StatusOr<Principal> p = verifier->VerifyToken(token, kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->expires, kNow + absl::Minutes(10) + absl::Milliseconds(500));
}

TEST_F(JwtTest, WrongIssuer) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.issuer = "https://evil.test";
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "wrong issuer"));
  o.issuer.clear();
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "wrong issuer"));

  VerifierConfig any_issuer = Config();
  any_issuer.issuer.clear();
  EXPECT_THAT(MustCreate(any_issuer)->VerifyToken(MustMint(o), kNow), IsOk());
}

TEST_F(JwtTest, AudienceAsStringOrArray) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.audience = "billing";
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "wrong audience"));
  o.audience.clear();
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "wrong audience"));

  auto with_aud = [](absl::string_view aud_json) {
    return CraftHs256(
        kHs256Header,
        absl::StrCat(R"({"sub":"alice","iss":")", kIssuer, R"(","aud":)",
                     aud_json, R"(,"exp":)",
                     absl::ToUnixSeconds(kNow + absl::Hours(1)), "}"));
  };
  EXPECT_THAT(verifier->VerifyToken(
                  with_aud(R"(["billing","sightline","payroll"])"), kNow),
              IsOk());
  EXPECT_THAT(verifier->VerifyToken(with_aud(R"(["billing","payroll"])"), kNow),
              StatusIs(kUnauthenticated, "wrong audience"));
  EXPECT_THAT(verifier->VerifyToken(with_aud("[]"), kNow),
              StatusIs(kUnauthenticated, "wrong audience"));
  EXPECT_THAT(verifier->VerifyToken(with_aud("42"), kNow),
              StatusIs(kUnauthenticated, "wrong audience"));
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  std::string payload = B64(Payload(R"(,"roles":["hr_admin"])"));
  std::vector<std::string> tokens = {
      absl::StrCat(B64(R"({"alg":"none","typ":"JWT"})"), ".", payload, "."),
      absl::StrCat(B64(R"({"alg":"none"})"), ".", payload, ".c2lnbmF0dXJl"),
      absl::StrCat(B64(R"({"alg":"None"})"), ".", payload, "."),
  };
  for (auto config : {Config(), RsaConfig()}) {
    auto verifier = MustCreate(config);
    for (const std::string& token : tokens) {
      EXPECT_THAT(verifier->VerifyToken(token, kNow),
                  StatusIs(kUnauthenticated, "algorithm not allowed"));
    }
  }
}

// The classic confusion: the RS256 public key is public, so an attacker can
// HMAC a token with its PEM text. libjwt alone would accept it.
TEST_F(JwtTest, Hs256KeyedWithPublicKeyIsRefusedByRs256Verifier) {
  auto verifier = MustCreate(RsaConfig());
  MintOptions o = Options();
  o.algorithm = Algorithm::kHS256;
  o.key = rsa_->public_pem;
  o.roles = {Role::kHrAdmin};
  EXPECT_THAT(verifier->VerifyToken(MustMint(o), kNow),
              StatusIs(kUnauthenticated, "algorithm not allowed"));

  // Two `alg` members: one parser could see RS256 while libjwt sees HS256.
  std::string duplicate = CraftHs256(R"({"alg":"RS256","alg":"HS256"})",
                                     Payload(), rsa_->public_pem);
  EXPECT_THAT(verifier->VerifyToken(duplicate, kNow),
              StatusIs(kUnauthenticated));
}

TEST_F(JwtTest, Rs256TokenIsRefusedByHs256Verifier) {
  auto verifier = MustCreate(Config());
  EXPECT_THAT(verifier->VerifyToken(MustMint(RsaOptions()), kNow),
              StatusIs(kUnauthenticated, "algorithm not allowed"));
}

TEST_F(JwtTest, CriticalHeaderExtensionsAreRefused) {
  auto verifier = MustCreate(Config());
  std::string token = CraftHs256(
      R"({"alg":"HS256","crit":["exp-policy"],"exp-policy":1})", Payload());
  EXPECT_THAT(verifier->VerifyToken(token, kNow),
              StatusIs(kUnauthenticated, "malformed token"));
}

TEST_F(JwtTest, UnknownRole) {
  auto verifier = MustCreate(Config());
  EXPECT_THAT(verifier->VerifyToken(
                  CraftHs256(kHs256Header,
                             Payload(R"(,"roles":["employee","wizard"])")),
                  kNow),
              StatusIs(kUnauthenticated, "unknown role: wizard"));
  EXPECT_THAT(
      verifier->VerifyToken(
          CraftHs256(kHs256Header, Payload(R"(,"roles":"employee Manager")")),
          kNow),
      StatusIs(kUnauthenticated, "unknown role: Manager"));
  // Names that are not plain identifiers stay out of the message.
  EXPECT_THAT(
      verifier->VerifyToken(
          CraftHs256(kHs256Header,
                     Payload(R"(,"roles":["admin\n{\"level\":\"error\"}"])")),
          kNow),
      StatusIs(kUnauthenticated, "unknown role"));
  EXPECT_THAT(
      verifier->VerifyToken(
          CraftHs256(kHs256Header, Payload(R"(,"roles":["employee",7])")),
          kNow),
      StatusIs(kUnauthenticated, "malformed token"));
  EXPECT_THAT(
      verifier->VerifyToken(
          CraftHs256(kHs256Header, Payload(R"(,"roles":{"a":1})")), kNow),
      StatusIs(kUnauthenticated, "malformed token"));
}

TEST_F(JwtTest, MissingSubject) {
  auto verifier = MustCreate(Config());
  auto with_sub = [](absl::string_view sub_member) {
    return CraftHs256(
        kHs256Header,
        absl::StrCat("{", sub_member, R"("iss":")", kIssuer, R"(","aud":")",
                     kAudience, R"(","exp":)",
                     absl::ToUnixSeconds(kNow + absl::Hours(1)), "}"));
  };
  for (absl::string_view member :
       {"", R"("sub":"",)", R"("sub":42,)", R"("sub":null,)"}) {
    EXPECT_THAT(verifier->VerifyToken(with_sub(member), kNow),
                StatusIs(kUnauthenticated, "missing subject"))
        << member;
  }
  EXPECT_THAT(verifier->VerifyToken(with_sub(R"("sub":"12345",)"), kNow),
              IsOk());
}

TEST_F(JwtTest, CachedTokenIsStillCheckedForTime) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.not_before = kNow - absl::Minutes(1);
  std::string token = MustMint(o);
  ASSERT_THAT(verifier->VerifyToken(token, kNow), IsOk());
  ASSERT_EQ(verifier->CachedTokens(), 1u);

  EXPECT_THAT(verifier->VerifyToken(token, kNow + absl::Hours(2)),
              StatusIs(kUnauthenticated, "token expired"));
  EXPECT_THAT(verifier->VerifyToken(token, kNow - absl::Minutes(10)),
              StatusIs(kUnauthenticated, "token not yet valid"));
  EXPECT_THAT(verifier->VerifyToken(token, kNow + absl::Minutes(5)), IsOk());
  EXPECT_EQ(verifier->CachedTokens(), 1u);
}

TEST_F(JwtTest, FailuresAreNotCached) {
  auto verifier = MustCreate(Config());
  MintOptions o = Options();
  o.key = kOtherSecret;
  std::string token = MustMint(o);
  EXPECT_THAT(verifier->VerifyToken(token, kNow), StatusIs(kUnauthenticated));
  EXPECT_THAT(verifier->VerifyToken(token, kNow), StatusIs(kUnauthenticated));
  EXPECT_EQ(verifier->CachedTokens(), 0u);
}

TEST_F(JwtTest, CacheIsBounded) {
  VerifierConfig config = Config();
  config.cache_size = 64;
  auto verifier = MustCreate(config);
  std::vector<std::string> tokens;
  for (int i = 0; i < 300; ++i) {
    MintOptions o = Options();
    o.subject = absl::StrCat("user-", i);
    tokens.push_back(MustMint(o));
  }
  for (const std::string& token : tokens) {
    ASSERT_THAT(verifier->VerifyToken(token, kNow), IsOk());
    ASSERT_LE(verifier->CachedTokens(), 64u);
  }
  EXPECT_GT(verifier->CachedTokens(), 0u);
  // Evicted or not, every token still verifies to its own subject.
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<Principal> p = verifier->VerifyToken(tokens[i], kNow);
    ASSERT_THAT(p, IsOk());
    EXPECT_EQ(p->subject, absl::StrCat("user-", i));
  }
}

TEST_F(JwtTest, CacheCanBeTurnedOff) {
  VerifierConfig config = Config();
  config.cache_size = 0;
  auto verifier = MustCreate(config);
  std::string token = MustMint(Options());
  EXPECT_THAT(verifier->VerifyToken(token, kNow), IsOk());
  EXPECT_THAT(verifier->VerifyToken(token, kNow), IsOk());
  EXPECT_EQ(verifier->CachedTokens(), 0u);
  EXPECT_THAT(verifier->VerifyToken(token, kNow + absl::Hours(2)),
              StatusIs(kUnauthenticated, "token expired"));
}

TEST_F(JwtTest, ConcurrentVerification) {
  VerifierConfig config = Config();
  config.cache_size = 32;  // small, so threads also clear shards
  auto verifier = MustCreate(config);
  std::vector<std::string> tokens;
  for (int i = 0; i < 40; ++i) {
    MintOptions o = Options();
    o.subject = absl::StrCat("user-", i);
    tokens.push_back(MustMint(o));
  }
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < tokens.size(); ++i) {
          absl::StatusOr<Principal> p = verifier->VerifyToken(tokens[i], kNow);
          if (!p.ok() || p->subject != absl::StrCat("user-", i)) {
            ++failures[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST_F(JwtTest, MessagesNeverQuoteTheToken) {
  auto verifier = MustCreate(Config());
  MintOptions expired = Options();
  expired.issued_at = kNow - absl::Hours(3);
  MintOptions other_key = Options();
  other_key.key = kOtherSecret;
  MintOptions wrong_issuer = Options();
  wrong_issuer.issuer = "https://evil.test";
  std::vector<std::string> tokens = {
      MustMint(expired),
      MustMint(other_key),
      MustMint(wrong_issuer),
      MustMint(RsaOptions()),
      CraftHs256(kHs256Header, Payload(R"(,"roles":["wizard"])")),
      MustMint(Options()).substr(0, 60),
  };
  for (const std::string& token : tokens) {
    absl::StatusOr<Principal> p =
        verifier->VerifyAuthorization("Bearer " + token, kNow);
    ASSERT_THAT(p, StatusIs(kUnauthenticated));
    std::string message(p.status().message());
    EXPECT_LT(message.size(), 40u) << message;
    for (absl::string_view part : absl::StrSplit(token, '.')) {
      if (part.size() >= 8) {
        EXPECT_THAT(message, Not(HasSubstr(part.substr(0, 8)))) << message;
      }
    }
  }
}

TEST_F(JwtTest, CreateRefusesUnsuitableKeys) {
  VerifierConfig c = Config();
  c.key = "short";
  EXPECT_THAT(TokenVerifier::Create(c),
              StatusIs(kInvalidArgument, HasSubstr("at least 32 bytes")));

  c = RsaConfig();
  c.key = kSecret;
  EXPECT_THAT(TokenVerifier::Create(c),
              StatusIs(kInvalidArgument, HasSubstr("PEM RSA public key")));
  c.key = rsa_->private_pem;  // the private key is not what verifiers hold
  EXPECT_THAT(TokenVerifier::Create(c), StatusIs(kInvalidArgument));
  c.key = GenerateRsaKeys(1024).public_pem;
  EXPECT_THAT(TokenVerifier::Create(c),
              StatusIs(kInvalidArgument, HasSubstr("2048")));

  c = Config();
  c.leeway = absl::Seconds(-1);
  EXPECT_THAT(TokenVerifier::Create(c),
              StatusIs(kInvalidArgument, HasSubstr("leeway")));
}

TEST_F(JwtTest, MintRefusesBadOptions) {
  MintOptions o = Options();
  o.subject.clear();
  EXPECT_THAT(Mint(o), StatusIs(kInvalidArgument, HasSubstr("subject")));
  o = Options();
  o.key = "short";
  EXPECT_THAT(Mint(o), StatusIs(kInvalidArgument, HasSubstr("key")));
  o = RsaOptions();
  o.key = rsa_->public_pem;
  EXPECT_THAT(Mint(o), StatusIs(kInvalidArgument, HasSubstr("private key")));
  o = Options();
  o.ttl = absl::ZeroDuration();
  EXPECT_THAT(Mint(o), StatusIs(kInvalidArgument, HasSubstr("ttl")));
}

class ReadKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = sightline::testing::MakeTempDir("auth_keys"); }
  void TearDown() override { sightline::testing::RemoveTree(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string dir_;
};

TEST_F(ReadKeyFileTest, StripsOneTrailingNewline) {
  EXPECT_EQ(*ReadKeyFile(Write("a", "secret\n")), "secret");
  EXPECT_EQ(*ReadKeyFile(Write("b", "secret\r\n")), "secret");
  EXPECT_EQ(*ReadKeyFile(Write("c", "secret\n\n")), "secret\n");
  EXPECT_EQ(*ReadKeyFile(Write("d", "  secret ")), "  secret ");
  std::string binary("\x00\xff\x01", 3);
  EXPECT_EQ(*ReadKeyFile(Write("e", binary)), binary);
}

TEST_F(ReadKeyFileTest, MissingOrEmptyNamesThePath) {
  std::string missing = dir_ + "/nope.key";
  EXPECT_THAT(ReadKeyFile(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  std::string empty = Write("empty", "");
  EXPECT_THAT(ReadKeyFile(empty), StatusIs(kInvalidArgument, HasSubstr(empty)));
  std::string newline = Write("newline", "\n");
  EXPECT_THAT(ReadKeyFile(newline),
              StatusIs(kInvalidArgument, HasSubstr(newline)));
  EXPECT_THAT(ReadKeyFile(dir_), StatusIs(kInvalidArgument, HasSubstr(dir_)));
}

TEST_F(ReadKeyFileTest, PemKeysFromFilesWork) {
  RsaKeys keys = GenerateRsaKeys(2048);
  auto private_key = ReadKeyFile(Write("private.pem", keys.private_pem));
  auto public_key = ReadKeyFile(Write("public.pem", keys.public_pem));
  ASSERT_THAT(private_key, IsOk());
  ASSERT_THAT(public_key, IsOk());
  MintOptions o;
  o.algorithm = Algorithm::kRS256;
  o.key = *private_key;
  o.subject = "E1234";
  o.issued_at = kNow;
  VerifierConfig c;
  c.algorithm = Algorithm::kRS256;
  c.key = *public_key;
  auto verifier = TokenVerifier::Create(c);
  ASSERT_THAT(verifier, IsOk());
  auto token = Mint(o);
  ASSERT_THAT(token, IsOk());
  absl::StatusOr<Principal> p = (*verifier)->VerifyToken(*token, kNow);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->subject, "E1234");
}

}  // namespace
}  // namespace sightline::auth
