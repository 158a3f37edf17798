// Pure text helpers of the mirror's HTML pages (src/server/html_page.hpp, an internal header).
#include <gtest/gtest.h>

#include "html_page.hpp"

namespace hubcache::server {
namespace {

TEST(ServerHtml, HtmlEscapeTurnsEveryMarkupCharacterIntoAReference) {
  EXPECT_EQ(html_escape("<script>alert(1)</script>.txt"), "&lt;script&gt;alert(1)&lt;/script&gt;.txt");
  EXPECT_EQ(html_escape("a&b \"q\" 'x'.json"), "a&amp;b &quot;q&quot; &#39;x&#39;.json");
  EXPECT_EQ(html_escape("plain/ünïcode.txt"), "plain/ünïcode.txt");
}

TEST(ServerHtml, CodeStringsReadBackInPythonAndJs) {
  EXPECT_EQ(code_string("org/name"), "\"org/name\"");
  EXPECT_EQ(code_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
  EXPECT_EQ(code_string(std::string("\x01", 1)), "\"\\u0001\"");
}

TEST(ServerHtml, ShellWordsQuoteOnlyWhatTheShellWouldRead) {
  EXPECT_EQ(shell_word("https://mirror.example:8443/hub"), "https://mirror.example:8443/hub");
  EXPECT_EQ(shell_word("http://h/a&b"), "'http://h/a&b'");
  EXPECT_EQ(shell_word("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_word("$(rm -rf ~)"), "'$(rm -rf ~)'");
  EXPECT_EQ(shell_word(""), "''");
}

TEST(ServerHtml, UrlPathIsThePrefixOfThePagesLinks) {
  EXPECT_EQ(url_path("http://127.0.0.1:8080"), "");
  EXPECT_EQ(url_path("https://mirror.example/hub"), "/hub");
  EXPECT_EQ(url_path("https://mirror.example/a/b/"), "/a/b");
  EXPECT_EQ(url_path("not a url"), "");
}

}  // namespace
}  // namespace hubcache::server
