#include "datumfs/status.h"

#include <cstring>

namespace datumfs {

Status Status::Errno(int errno_value, std::string_view context, std::string_view detail) {
  Status s;
  s.errno_value_ = errno_value;
  s.message_ = std::string(context);
  if (!detail.empty()) {
    s.message_ += ": ";
    s.message_ += detail;
  }
  return s;
}

Status ErrnoStatus(std::string_view context, int errno_value) {
  return Status::Errno(errno_value, context, std::strerror(errno_value));
}

}  // namespace datumfs
