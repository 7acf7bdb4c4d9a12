#include "cache/data_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "datumfs/crc32c.h"

namespace datumfs {

std::string DataFilePath(const std::string& cache_dir, std::string_view key) {
  char xx[3];
  std::snprintf(xx, sizeof xx, "%02x", crc32c::Value(key) & 0xff);
  return cache_dir + "/data/" + xx + "/" + std::string(key);
}

Result<DataFile> DataFile::Open(const std::string& path, Mode mode, Lock lock) {
  int flags = (mode == Mode::kRead ? O_RDONLY : O_RDWR) | (mode == Mode::kCreate ? O_CREAT : 0) |
              O_CLOEXEC;
  int fd = open(path.c_str(), flags, 0600);
  if (fd < 0 && mode == Mode::kCreate && errno == ENOENT) {
    std::string dir = path.substr(0, path.rfind('/'));
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(dir, errno);
    fd = open(path.c_str(), flags, 0600);
  }
  if (fd < 0) return ErrnoStatus(path, errno);
  DataFile file(fd);
  int op = lock == Lock::kShared ? LOCK_SH : lock == Lock::kExclusiveOrSkip ? LOCK_EX | LOCK_NB : 0;
  if (op != 0) {
    while (flock(fd, op) != 0) {
      if (errno != EINTR) return ErrnoStatus(path, errno);
    }
  }
  return file;
}

DataFile::~DataFile() { Close(); }

void DataFile::Close() {
  if (fd_ >= 0) close(fd_);  // also releases the flock
  fd_ = -1;
}

Status DataFile::ReadAt(uint64_t offset, uint64_t length, char* out) const {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cache read", errno);
    if (n == 0) return Status::Errno(EIO, "cache read", "file shorter than its index");
    done += static_cast<uint64_t>(n);
  }
  return Status();
}

Status DataFile::WriteAt(uint64_t offset, std::string_view bytes) const {
  uint64_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cache write", errno);
    done += static_cast<uint64_t>(n);
  }
  return Status();
}

Status DataFile::PunchHole(uint64_t offset, uint64_t length) const {
  // A hole frees whole filesystem blocks only. A range that ends the file takes the rest of its
  // last block along (nothing is stored past the end): otherwise a file smaller than a block,
  // and every file's tail, keeps a block on disk after its eviction. (Writers hold no lock: one
  // that extends the file within that block at this moment, from an extent starting mid-block,
  // loses those bytes; its extent then fails its CRC check at its first read and is refetched.)
  struct stat st;
  if (fstat(fd_, &st) == 0 && st.st_blksize > 0 &&
      offset + length >= static_cast<uint64_t>(st.st_size)) {
    const uint64_t block = static_cast<uint64_t>(st.st_blksize);
    length = (offset + length + block - 1) / block * block - offset;
  }
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) != 0) {
    return ErrnoStatus("cache punch hole", errno);
  }
  return Status();
}

}  // namespace datumfs
