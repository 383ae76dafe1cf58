// Result<T, E>: an expected-like value for failures that are part of the contract.
//
// C++20 has no std::expected, so this is a deliberately small stand-in: a value or
// an error code of a per-subsystem errc enum. Reading the wrong alternative is a
// broken invariant and asserts. Use Result<void, E> for operations with no value.
#pragma once

#include <streamsim/core/assert.h>

#include <utility>
#include <variant>

namespace streamsim {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected<E> unexpected(E e) { return Unexpected<E>{e}; }

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  Result(Unexpected<E> u) : v_(std::in_place_index<1>, u.error) {}  // NOLINT(implicit)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    SS_ASSERT(ok(), "Result::value() on an error");
    return std::get<0>(v_);
  }
  const T& value() const& {
    SS_ASSERT(ok(), "Result::value() on an error");
    return std::get<0>(v_);
  }
  T&& value() && {
    SS_ASSERT(ok(), "Result::value() on an error");
    return std::get<0>(std::move(v_));
  }
  E error() const {
    SS_ASSERT(!ok(), "Result::error() on a value");
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(Unexpected<E> u) : has_error_(true), error_(u.error) {}  // NOLINT(implicit)
  bool ok() const noexcept { return !has_error_; }
  explicit operator bool() const noexcept { return ok(); }
  E error() const {
    SS_ASSERT(has_error_, "Result::error() on success");
    return error_;
  }
  void value() const { SS_ASSERT(ok(), "Result::value() on an error"); }

 private:
  bool has_error_ = false;
  E error_{};
};

}  // namespace streamsim
