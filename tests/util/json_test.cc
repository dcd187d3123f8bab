// util/json: parsing (values, escapes, exact integers, errors with offsets) and writing.
#include "util/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ParsesEveryKindOfValue) {
  absl::StatusOr<Json> doc =
      Json::Parse(" {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\"}, \"d\": []} ");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->is_object());
  EXPECT_EQ(doc->size(), 3u);
  const Json* a = doc->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->size(), 5u);
  EXPECT_TRUE((*a)[0].is_integer());
  EXPECT_EQ((*a)[0].integer(), 1);
  EXPECT_FALSE((*a)[1].is_integer());
  EXPECT_EQ((*a)[1].number(), -25.0);
  EXPECT_TRUE((*a)[2].boolean());
  EXPECT_FALSE((*a)[3].boolean());
  EXPECT_TRUE((*a)[4].is_null());
  EXPECT_EQ(doc->Find("b")->Find("c")->string(), "x");
  EXPECT_TRUE(doc->Find("d")->is_array());
  EXPECT_EQ(doc->Find("missing"), nullptr);
  // Members keep document order.
  EXPECT_EQ(doc->members()[0].first, "a");
  EXPECT_EQ(doc->members()[2].first, "d");
}

TEST(JsonTest, LargeIntegersStayExact) {
  absl::StatusOr<Json> doc = Json::Parse("[9007199254740993, 9223372036854775807]");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)[0].integer(), 9007199254740993);  // 2^53 + 1: not a double
  EXPECT_EQ((*doc)[1].integer(), INT64_MAX);
  EXPECT_EQ(doc->Dump(), "[9007199254740993,9223372036854775807]");
}

TEST(JsonTest, StringEscapesAndUnicode) {
  absl::StatusOr<Json> doc = Json::Parse(R"("q\" b\\ s\/ \n\t \u00e9 \ud83d\ude00")");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->string(), "q\" b\\ s/ \n\t \xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(JsonTest, ErrorsSayWhatAndWhere) {
  const auto error = [](const std::string& text) {
    absl::StatusOr<Json> doc = Json::Parse(text);
    return doc.ok() ? std::string("parsed") : std::string(doc.status().message());
  };
  EXPECT_EQ(error("[1, 2,]"), "json: invalid value at offset 6");
  EXPECT_EQ(error("{\"a\": 1} x"), "json: unexpected text after the document at offset 9");
  EXPECT_EQ(error("{\"a\": 1, \"a\": 2}"), "json: duplicate member name at offset 12");
  EXPECT_THAT(error("\"abc"), HasSubstr("unterminated string"));
  EXPECT_THAT(error("\"a\x01\""), HasSubstr("control character"));
  EXPECT_THAT(error("\"\\x\""), HasSubstr("bad escape"));
  EXPECT_THAT(error("01"), HasSubstr("leading zero"));
  EXPECT_THAT(error("{1: 2}"), HasSubstr("expected a member name"));
  EXPECT_THAT(error(""), HasSubstr("unexpected end of input"));
  EXPECT_THAT(error(std::string(100, '[')), HasSubstr("nesting too deep"));
}

TEST(JsonTest, DumpIsCompactAndReadsBack) {
  Json obj = Json::Object();
  obj.Set("name", Json("w\"1"));
  obj.Set("shape", Json::Array().Push(Json(2)).Push(Json(int64_t{3})));
  obj.Set("loss", Json(0.25));
  obj.Set("ok", Json(true));
  obj.Set("none", Json());
  obj.Set("name", Json("w2"));  // replaces in place
  const std::string text = obj.Dump();
  EXPECT_EQ(text, R"({"name":"w2","shape":[2,3],"loss":0.25,"ok":true,"none":null})");
  absl::StatusOr<Json> back = Json::Parse(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Dump(), text);
  EXPECT_EQ(Json(0.1).Dump(), "0.1");  // shortest round-trip form
  EXPECT_EQ(Json(1.0 / 0.0).Dump(), "null");
}

}  // namespace
}  // namespace kiln
