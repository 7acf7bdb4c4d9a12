// One object's sparse data file, opened for one operation, with the flock protocol:
// readers hold LOCK_SH while they read indexed bytes; eviction holds LOCK_EX while it
// unindexes and punches. RAII; not thread-safe (one per operation).
#ifndef DATUMFS_CACHE_DATA_FILE_H_
#define DATUMFS_CACHE_DATA_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "datumfs/status.h"

namespace datumfs {

// CACHE/data/<xx>/<key>; xx spreads keys over 256 directories.
std::string DataFilePath(const std::string& cache_dir, std::string_view key);

class DataFile {
 public:
  enum class Mode { kRead, kWrite, kCreate };  // kCreate also makes the file and its directory
  enum class Lock { kNone, kShared, kExclusiveOrSkip };

  // kExclusiveOrSkip fails with EWOULDBLOCK if a reader holds the file.
  static Result<DataFile> Open(const std::string& path, Mode mode, Lock lock);
  DataFile(DataFile&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataFile& operator=(DataFile&&) = delete;
  DataFile(const DataFile&) = delete;
  ~DataFile();

  // Reads exactly `length` bytes at `offset` into `out` (EIO on a short read).
  Status ReadAt(uint64_t offset, uint64_t length, char* out) const;
  Status WriteAt(uint64_t offset, std::string_view bytes) const;
  int fd() const { return fd_; }
  // Closes now (releasing the lock); later calls fail.
  void Close();
  // Frees the disk blocks of the range (the file keeps its size); a range that reaches the
  // end of the file frees the file's last block whole.
  Status PunchHole(uint64_t offset, uint64_t length) const;

 private:
  explicit DataFile(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace datumfs

#endif  // DATUMFS_CACHE_DATA_FILE_H_
