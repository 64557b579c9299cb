#include "lib/auth/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sightline::auth::internal {
namespace {

using Kind = JsonValue::Kind;

TEST(JsonTest, ReadsAnObjectOfEveryKind) {
  std::optional<JsonValue> v = ParseJson(
      R"( {"s":"x","n":-12.5e1,"t":true,"f":false,"z":null,"a":[1,"two",[]],"o":{}} )");
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->kind, Kind::kObject);
  EXPECT_EQ(v->Find("s")->string, "x");
  EXPECT_EQ(v->Find("n")->number, -125);
  EXPECT_TRUE(v->Find("t")->boolean);
  EXPECT_EQ(v->Find("f")->kind, Kind::kBool);
  EXPECT_FALSE(v->Find("f")->boolean);
  EXPECT_EQ(v->Find("z")->kind, Kind::kNull);
  const JsonValue* a = v->Find("a");
  ASSERT_EQ(a->array.size(), 3u);
  EXPECT_EQ(a->array[0].number, 1);
  EXPECT_EQ(a->array[1].string, "two");
  EXPECT_EQ(a->array[2].kind, Kind::kArray);
  EXPECT_EQ(v->Find("o")->kind, Kind::kObject);
  EXPECT_EQ(v->Find("missing"), nullptr);
}

TEST(JsonTest, DecodesEscapes) {
  std::optional<JsonValue> v =
      ParseJson(R"("a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00")");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->string,
            "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(JsonTest, RefusesRepeatedMembers) {
  EXPECT_FALSE(ParseJson(R"({"alg":"RS256","alg":"HS256"})").has_value());
  EXPECT_FALSE(ParseJson(R"({"a":1,"b":2,"a":1})").has_value());
  // Escapes that spell the same key are the same key.
  EXPECT_FALSE(ParseJson(R"({"alg":1,"\u0061lg":2})").has_value());
  EXPECT_TRUE(ParseJson(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})").has_value());
}

TEST(JsonTest, RefusesWhatRfc8259Refuses) {
  for (const char* text : {
           "",
           " ",
           "{",
           "}",
           "[",
           "[1,]",
           "[,1]",
           "{,}",
           R"({"a":1,})",
           R"({"a" 1})",
           R"({a:1})",
           R"({'a':1})",
           "01",
           "-",
           "1.",
           ".5",
           "1e",
           "+1",
           "0x10",
           "1e999",
           "NaN",
           "Infinity",
           "tru",
           "nul",
           "True",
           R"("abc)",
           R"("\x41")",
           R"("\u12")",
           R"("\ud83d")",
           R"("\ude00")",
           R"("\ud83d\u0041")",
           "\"a\tb\"",
           "\"a\nb\"",
           "{} {}",
           "[1] x",
           "\"a\" \"b\"",
           "/*c*/1",
       }) {
    EXPECT_FALSE(ParseJson(text).has_value()) << text;
  }
}

TEST(JsonTest, LimitsNesting) {
  EXPECT_TRUE(ParseJson(std::string(16, '[') + std::string(16, ']')));
  EXPECT_FALSE(ParseJson(std::string(17, '[') + std::string(17, ']')));
  EXPECT_FALSE(ParseJson(std::string(100000, '[')));
}

TEST(JsonTest, EveryTruncationIsRefused) {
  const std::string doc =
      R"({"sub":"people/a\u00e9","roles":["employee","manager"],)"
      R"("aud":["x","y"],"exp":1800000000.25,"nbf":-1e3,"ok":true,"n":null})";
  ASSERT_TRUE(ParseJson(doc).has_value());
  for (size_t n = 0; n < doc.size(); ++n) {
    EXPECT_FALSE(ParseJson(doc.substr(0, n)).has_value()) << n;
  }
}

}  // namespace
}  // namespace sightline::auth::internal
