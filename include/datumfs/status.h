// Status and Result<T>: how every datumfs module reports an expected failure.
//
// A Status is OK or carries an errno value plus a "context: detail" message. The errno is
// what the FUSE adapter replies with, so no mapping table is needed at the edge. Result<T>
// holds a T or a non-OK Status; its members are named like std::expected so that it can be
// swapped for it under C++23. Values; thread-compatible.
#ifndef DATUMFS_STATUS_H_
#define DATUMFS_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace datumfs {

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;

  // REQUIRES: errno_value != 0. The message is "context: detail" (or just context).
  static Status Errno(int errno_value, std::string_view context,
                      std::string_view detail = {});

  bool ok() const { return errno_value_ == 0; }
  int errno_value() const { return errno_value_; }
  const std::string& message() const { return message_; }

 private:
  int errno_value_ = 0;
  std::string message_;
};

// The status for a failed system call: the message is "context: strerror(errno_value)".
Status ErrnoStatus(std::string_view context, int errno_value);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: REQUIRES !error.ok()

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  const Status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace datumfs

#endif  // DATUMFS_STATUS_H_
