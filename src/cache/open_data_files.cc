#include "cache/open_data_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "cache/data_file.h"

namespace datumfs {

OpenDataFiles::OpenDataFiles(std::string cache_dir, size_t capacity)
    : dir_(std::move(cache_dir)), capacity_(capacity) {}

OpenDataFiles::~OpenDataFiles() {
  MutexLock lock(&mu_);
  for (Pin::Entry& e : lru_) close(e.fd);
}

Result<OpenDataFiles::Pin> OpenDataFiles::Acquire(std::string_view key) {
  std::string k(key);
  MutexLock lock(&mu_);
  auto it = by_key_.find(k);
  if (it == by_key_.end()) {
    lock.Unlock();
    const std::string path = DataFilePath(dir_, key);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(path, errno);
    lock.Lock();
    it = by_key_.find(k);
    if (it != by_key_.end()) {
      close(fd);  // another read opened it meanwhile
    } else {
      lru_.push_front(Pin::Entry{k, fd, 0});
      it = by_key_.emplace(std::move(k), lru_.begin()).first;
    }
  }
  lru_.splice(lru_.begin(), lru_, it->second);  // most recently used
  Pin::Entry* entry = &*it->second;
  if (entry->pins == 0) {
    while (flock(entry->fd, LOCK_SH) != 0) {
      if (errno != EINTR) return ErrnoStatus(DataFilePath(dir_, key), errno);
    }
  }
  ++entry->pins;
  Trim();
  return Pin(this, entry);
}

void OpenDataFiles::Unpin(Pin::Entry* entry) {
  MutexLock lock(&mu_);
  if (--entry->pins == 0) {
    flock(entry->fd, LOCK_UN);
    Trim();
  }
}

void OpenDataFiles::CloseAll() {
  MutexLock lock(&mu_);
  keep_ = false;
  Trim();
}

void OpenDataFiles::Trim() {
  const size_t capacity = keep_ ? capacity_ : 0;
  auto it = lru_.end();
  while (lru_.size() > capacity && it != lru_.begin()) {
    --it;
    if (it->pins > 0) continue;
    close(it->fd);
    by_key_.erase(it->key);
    it = lru_.erase(it);
  }
}

size_t OpenDataFiles::open_files() {
  MutexLock lock(&mu_);
  return lru_.size();
}

Status OpenDataFiles::Pin::ReadAt(uint64_t offset, uint64_t length, char* out) const {
  if (!files_) return Status::Errno(EBADF, "cache read", "file released");
  return PreadExactly(entry_->fd, offset, length, out);
}

void OpenDataFiles::Pin::Release() {
  if (!files_) return;
  files_->Unpin(entry_);
  files_ = nullptr;
}

}  // namespace datumfs
