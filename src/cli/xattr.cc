#include "cli/xattr.h"

#include <sys/xattr.h>

#include <cerrno>

namespace datumfs {

Result<std::string> GetXattr(const std::string& path, const char* name) {
  // The value may grow between asking its size and reading it (counters move): try again.
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t size = getxattr(path.c_str(), name, nullptr, 0);
    if (size < 0) return ErrnoStatus(path, errno);
    std::string value(static_cast<size_t>(size) + 64, '\0');
    ssize_t n = getxattr(path.c_str(), name, value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return value;
    }
    if (errno != ERANGE) return ErrnoStatus(path, errno);
  }
  return Status::Errno(ERANGE, path, std::string(name) + " keeps growing");
}

}  // namespace datumfs
