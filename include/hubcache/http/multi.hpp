#pragma once
// Many concurrent streaming exchanges driven by one thread (libcurl multi interface). Used by
// the transfer engine; all methods except wakeup() must be called from the driving thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "hubcache/http/http.hpp"

namespace hubcache::http {

class Multi {
 public:
  using Id = std::uint64_t;
  using Done = std::function<void(Result<Response>)>;

  Multi();
  ~Multi();
  Multi(const Multi&) = delete;
  Multi& operator=(const Multi&) = delete;

  /// Starts an exchange; `done` runs on the driving thread when it ends (also after cancel()).
  Id add(const Request& request, Sink sink, Done done);
  /// Stops an exchange; its `done` gets ErrorCode::Cancelled during the next poll().
  void cancel(Id id);
  /// Moves data and runs callbacks; waits at most `timeout` for activity. Returns the number
  /// of exchanges still running.
  std::size_t poll(std::chrono::milliseconds timeout);
  std::size_t running() const;
  /// Interrupts a poll() from any thread.
  void wakeup();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::http
