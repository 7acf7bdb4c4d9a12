#include "manifest/json_error.h"

#include <cerrno>
#include <cstdio>
#include <memory>

namespace datumfs {

Status JsonError(std::string_view display_name, std::string_view text, size_t offset,
                 std::string_view reason) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string where = std::string(display_name) + ":" + std::to_string(line) + ":" +
                      std::to_string(column) + " (byte " + std::to_string(offset) + ")";
  return Status::Errno(EINVAL, where, reason);
}

Status ReadWholeFile(const std::string& path, std::string* text) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return ErrnoStatus(path, errno);
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text->append(buf, n);
  if (std::ferror(f.get())) return ErrnoStatus(path, errno ? errno : EIO);
  return Status();
}

}  // namespace datumfs
