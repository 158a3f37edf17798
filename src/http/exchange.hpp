#pragma once
// Internal: one configured libcurl easy handle and the state its callbacks fill in. Shared by
// the blocking Client and the Multi driver.
#include <curl/curl.h>

#include <chrono>
#include <string>

#include "hubcache/http/http.hpp"

namespace hubcache::http::detail {

void global_init();

struct Exchange {
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  Request request;
  Sink sink;
  bool streaming = false;
  const CancelToken* cancel = nullptr;
  const Transport* transport = nullptr;  // owned by the Client / Multi
  std::chrono::steady_clock::time_point started;
  Response response;
  bool head_delivered = false;
  bool aborted_by_receiver = false;
  bool body_too_large = false;
  bool idle_timed_out = false;
  std::chrono::steady_clock::time_point last_activity;
  char error_buffer[CURL_ERROR_SIZE] = {};

  Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange();

  /// (Re)configures `easy` (created if null, reset otherwise) for `request`.
  void prepare(const Request& req, Sink s, bool stream, const CancelToken* c, const Transport* t);
  /// Reports the finished exchange to Transport::on_exchange, if set.
  void record(const Result<Response>& result) const;
  /// Turns the libcurl outcome into the Result.
  Result<Response> finish(CURLcode code);
  /// Delivers on_head if it has not run yet; false if the receiver aborted (or, collecting the
  /// body, its announced length is over the limit: body_too_large).
  bool deliver_head();
  /// The error for a body over Request::max_body.
  Error too_large(const std::string& what) const;
};

}  // namespace hubcache::http::detail
