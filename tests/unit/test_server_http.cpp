// Pure helpers of the mirror: percent-decoding, forms, Range decisions, ETag matching,
// If-Range, HTTP dates and RFC 9112 request hygiene.
#include <gtest/gtest.h>

#include "hubcache/server/http.hpp"

namespace hubcache::server {
namespace {

TEST(ServerHttp, PercentDecodeIsStrict) {
  EXPECT_EQ(percent_decode("refs%2Fpr%2F1"), "refs/pr/1");
  EXPECT_EQ(percent_decode("%2e%2E"), "..");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("abc%"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_EQ(percent_encode("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(percent_encode("a b/c?", "/"), "a%20b/c%3F");
}

TEST(ServerHttp, FormBodies) {
  auto f = parse_form("paths=a%2Fb&paths=c+d&expand=true&&flag");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ((*f)[0].second, "a/b");
  EXPECT_EQ((*f)[1].second, "c d");
  EXPECT_EQ((*f)[3].first, "flag");
  EXPECT_FALSE(parse_form("paths=%G0"));
}

TEST(ServerHttp, RangeDecisions) {
  using K = RangeDecision::Kind;
  auto d = decide_range("bytes=0-0", 10);
  EXPECT_EQ(d.kind, K::Partial);
  EXPECT_EQ(d.range.first, 0u);
  EXPECT_EQ(d.range.last, 0u);
  d = decide_range("bytes=3-", 10);
  EXPECT_EQ(d.range.first, 3u);
  EXPECT_EQ(d.range.last, 9u);
  d = decide_range("bytes=-4", 10);
  EXPECT_EQ(d.range.first, 6u);
  d = decide_range("bytes=-40", 10);
  EXPECT_EQ(d.range.first, 0u);
  d = decide_range("bytes=8-400", 10);
  EXPECT_EQ(d.range.last, 9u);
  EXPECT_EQ(decide_range("bytes=10-", 10).kind, K::Unsatisfiable);
  EXPECT_EQ(decide_range("bytes=-0", 10).kind, K::Unsatisfiable);
  EXPECT_EQ(decide_range("bytes=0-0", 0).kind, K::Unsatisfiable);
  EXPECT_EQ(decide_range(std::nullopt, 10).kind, K::Full);
  EXPECT_EQ(decide_range("bytes=0-1,3-4", 10).kind, K::Full);
  EXPECT_EQ(decide_range("bytes=5-2", 10).kind, K::Full);
  EXPECT_EQ(decide_range("bytes=a-b", 10).kind, K::Full);
  EXPECT_EQ(decide_range("bytes=99999999999999999999-", 10).kind, K::Full);
  EXPECT_EQ(decide_range("lines=1-2", 10).kind, K::Full);
  EXPECT_EQ(decide_range("bytes 1-2", 10).kind, K::Full);
}

TEST(ServerHttp, IfNoneMatch) {
  EXPECT_TRUE(if_none_match("\"abc\"", "\"abc\""));
  EXPECT_TRUE(if_none_match("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(if_none_match("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(if_none_match("*", "\"abc\""));
  EXPECT_FALSE(if_none_match("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(if_none_match("abc", "\"abc\""));
}

TEST(ServerHttp, ConstantTimeEqualAndTimestamps) {
  EXPECT_TRUE(constant_time_equal("hf_abc", "hf_abc"));
  EXPECT_FALSE(constant_time_equal("hf_abc", "hf_abd"));
  EXPECT_FALSE(constant_time_equal("hf_abc", "hf_ab"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(1700000000), "2023-11-14T22:13:20.000Z");
}

TEST(ServerHttp, RequestLookups) {
  Request r;
  r.headers = {{"content-TYPE", "application/json"}};
  r.query = {{"expand", "a"}, {"expand", "b%20c"}, {"recursive", "true"}};
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_FALSE(r.header("Range"));
  EXPECT_EQ(r.query_values("expand"), (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(r.query_value("recursive"), "true");
  EXPECT_FALSE(r.query_value("cursor"));
}

TEST(ServerHttp, IfRangeNeedsTheCurrentStrongEtagOrTheExactLastModified) {
  const std::string date = http_date(1700000000);
  EXPECT_EQ(date, "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_TRUE(if_range_matches("\"abc\"", "\"abc\"", date));
  EXPECT_TRUE(if_range_matches(" \"abc\" ", "\"abc\"", date));
  EXPECT_FALSE(if_range_matches("\"old\"", "\"abc\"", date));
  EXPECT_FALSE(if_range_matches("W/\"abc\"", "\"abc\"", date));  // weak: never for ranges
  EXPECT_FALSE(if_range_matches("\"abc\", \"x\"", "\"abc\"", date));
  EXPECT_TRUE(if_range_matches(date, "\"abc\"", date));
  EXPECT_FALSE(if_range_matches(http_date(1700000001), "\"abc\"", date));
  EXPECT_FALSE(if_range_matches(date, "\"abc\"", ""));  // no Last-Modified sent: no date matches
  EXPECT_FALSE(if_range_matches("", "\"abc\"", date));
}

Request hygienic(std::string version, HeaderList headers, std::string path = "/org/m/resolve/main/x") {
  Request r;
  r.method = "GET";
  r.version = std::move(version);
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

TEST(ServerHttp, WellFormedRequestsPassTheHygieneCheck) {
  for (const auto& host : {"127.0.0.1:8080", "mirror.example", "[::1]:80", "my_host.lan:1", "a%41b", ""})
    EXPECT_FALSE(malformed_request(hygienic("HTTP/1.1", {{"Host", host}}))) << host;
  EXPECT_FALSE(malformed_request(hygienic("HTTP/1.0", {})));
  EXPECT_FALSE(malformed_request(hygienic("HTTP/1.1", {{"Host", "a"}, {"Content-Length", "5"}, {"content-length", "5, 5"}})));
  EXPECT_FALSE(malformed_request(hygienic("HTTP/1.1", {{"Host", "a"}, {"Transfer-Encoding", "gzip, chunked"}})));
  EXPECT_FALSE(malformed_request(hygienic("HTTP/1.1", {{"Host", "a"}, {"User-Agent", "x\ty"}})));  // HTAB is allowed
}

TEST(ServerHttp, MalformedRequestsAreNamed) {
  auto why = [](const Request& r) { return malformed_request(r).value_or("(accepted)"); };
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"host", "b"}})).find("more than one Host"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {})).find("must carry a Host"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a b"}})).find("Host header is not a valid"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a/b"}})).find("Host header is not a valid"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a:80x"}})).find("Host header is not a valid"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"Content-Length", "3"}, {"Content-Length", "5"}}))
                .find("different Content-Length"),
            std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"Content-Length", "3, 5"}})).find("different Content-Length"),
            std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"Content-Length", "+5"}})).find("not a decimal"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}))
                .find("both Transfer-Encoding and Content-Length"),
            std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.0", {{"Transfer-Encoding", "chunked"}})).find("HTTP/1.0"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"Transfer-Encoding", "chunked, gzip"}})).find("last Transfer-Encoding"),
            std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"X-A", std::string("b\0c", 3)}})).find("control byte"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", std::string("a\0evil", 6)}})).find("control byte"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"X-A", "b\rInjected: 1"}})).find("control byte"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}, {"X A", "b"}})).find("header name"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}}, std::string("/a\0b", 4))).find("request target"), std::string::npos);
  EXPECT_NE(why(hygienic("HTTP/1.1", {{"Host", "a"}}, "/a b")).find("request target"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::server
