#pragma once
// Result<T>: a minimal std::expected stand-in (GCC 12 has no <expected>), with the same names.
#include <cassert>
#include <utility>
#include <variant>

#include "hubcache/core/error.hpp"

namespace hubcache {

struct Unexpected {
  Error error;
};

inline Unexpected fail(ErrorCode code, std::string message, std::string path = {}) {
  return Unexpected{Error{code, std::move(message), std::move(path), std::nullopt, {}}};
}
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}         // NOLINT(implicit)
  Result(Unexpected u) : m_v(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT(implicit)

  bool has_value() const { return m_v.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & {
    assert(has_value());
    return std::get<0>(m_v);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(m_v);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(m_v));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(m_v);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(m_v));
  }
  template <typename U>
  T value_or(U&& other) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(other));
  }

 private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected u) : m_error(std::move(u.error)) {}  // NOLINT(implicit)
  bool has_value() const { return !m_error.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const& {
    assert(m_error);
    return *m_error;
  }
  Error&& error() && {
    assert(m_error);
    return std::move(*m_error);
  }

 private:
  std::optional<Error> m_error;
};

}  // namespace hubcache

/// Propagates the error of a Result expression, otherwise continues.
#define HUBCACHE_TRY(expr)                                                                   \
  do {                                                                                       \
    auto&& hubcache_try_r_ = (expr);                                                         \
    if (!hubcache_try_r_) return ::hubcache::Unexpected{std::move(hubcache_try_r_).error()}; \
  } while (0)

#define HUBCACHE_CONCAT_INNER_(a, b) a##b
#define HUBCACHE_CONCAT_(a, b) HUBCACHE_CONCAT_INNER_(a, b)
/// `HUBCACHE_TRY_ASSIGN(auto x, expr);` binds the value or propagates the error.
#define HUBCACHE_TRY_ASSIGN(decl, expr) HUBCACHE_TRY_ASSIGN_IMPL_(HUBCACHE_CONCAT_(hubcache_r_, __LINE__), decl, expr)
#define HUBCACHE_TRY_ASSIGN_IMPL_(tmp, decl, expr)                 \
  auto tmp = (expr);                                               \
  if (!tmp) return ::hubcache::Unexpected{std::move(tmp).error()}; \
  decl = std::move(tmp).value()
