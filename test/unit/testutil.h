// Helpers for unit tests.
#ifndef DATUMFS_TEST_UNIT_TESTUTIL_H_
#define DATUMFS_TEST_UNIT_TESTUTIL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace datumfs {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/datumfs-test-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace datumfs

#endif  // DATUMFS_TEST_UNIT_TESTUTIL_H_
