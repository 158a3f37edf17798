#pragma once
// Text helpers of the mirror's HTML pages (html_page.cpp), pure so unit tests check them.
#include <string>
#include <string_view>

namespace hubcache::server {

/// `s` as HTML text or a quoted attribute value: & < > " ' as character references.
std::string html_escape(std::string_view s);

/// `s` as a double-quoted string literal that Python and JavaScript both read back as `s`
/// (a JSON string: quotes, backslashes and control bytes escaped; invalid UTF-8 replaced).
std::string code_string(std::string_view s);

/// `s` as one POSIX shell word: as is when it holds only URL-safe characters, else single-quoted.
std::string shell_word(std::string_view s);

/// The path part of an absolute URL ("https://m.example/hub" -> "/hub", "http://h:1" -> ""): the
/// prefix of the pages' links when the mirror sits below a path of a public URL.
std::string url_path(std::string_view url);

}  // namespace hubcache::server
