#pragma once
// A plain GET with libcurl for tests that fetch from a server they started (header-only: only the
// test targets that link CURL::libcurl include it).
#include <curl/curl.h>

#include <string>
#include <utility>

namespace hubcache::test {

/// GETs `url` (redirects followed, 10 s timeout): the final status (0 when the request failed)
/// and the body.
inline std::pair<long, std::string> http_get(const std::string& url) {
  std::string body;
  long code = 0;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
        static_cast<std::string*>(u)->append(d, s * n);
        return s * n;
      });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return {code, body};
}

}  // namespace hubcache::test
