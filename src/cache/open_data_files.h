// Data files kept open for reading, like leveldb's TableCache: a warm read costs no open() and
// close() of its data file, only the flock pin. At most `capacity` files stay open; the least
// recently used one no read is using is closed when another is opened.
//
// The flock protocol of data_file.h holds: a reader holds LOCK_SH on the file while it reads
// indexed bytes, eviction takes LOCK_EX | LOCK_NB on a descriptor of its own. A file kept open
// here holds no lock while no read pins it, so it never keeps eviction out. Since a lock
// belongs to the open file description, which every reader of one file here shares, the lock
// is taken when the first pin comes and dropped when the last one goes. Data files are
// never replaced while the cache is open (only BlockCache::Open starts over), so a kept
// descriptor is the file at its path. Thread-safe.
#ifndef DATUMFS_CACHE_OPEN_DATA_FILES_H_
#define DATUMFS_CACHE_OPEN_DATA_FILES_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/mutex.h"
#include "datumfs/status.h"

namespace datumfs {

class OpenDataFiles {
 public:
  OpenDataFiles(std::string cache_dir, size_t capacity);
  ~OpenDataFiles();  // REQUIRES: no Pin left
  OpenDataFiles(const OpenDataFiles&) = delete;
  OpenDataFiles& operator=(const OpenDataFiles&) = delete;

  // A file held open and share-locked for one read: its extents cannot be evicted meanwhile.
  class Pin {
   public:
    Pin(Pin&& other) noexcept : files_(other.files_), entry_(other.entry_) {
      other.files_ = nullptr;
    }
    Pin& operator=(Pin&&) = delete;
    ~Pin() { Release(); }
    // Reads exactly `length` bytes at `offset` into `out` (EIO on a short read).
    Status ReadAt(uint64_t offset, uint64_t length, char* out) const;
    // Lets go of the file now (the lock, when this was the last pin); later reads fail.
    void Release();

   private:
    friend class OpenDataFiles;
    struct Entry;
    Pin(OpenDataFiles* files, Entry* entry) : files_(files), entry_(entry) {}
    OpenDataFiles* files_;
    Entry* entry_;
  };

  // Opens `key`'s data file (or takes the one kept open) and pins it. ENOENT if there is none.
  Result<Pin> Acquire(std::string_view key) EXCLUDES(mu_);

  // Closes every file no read is using, and from now on each one once its last pin goes:
  // after the cache directory was deleted, kept descriptors would keep its disk space taken.
  void CloseAll() EXCLUDES(mu_);

  // How many files are open now (for tests).
  size_t open_files() EXCLUDES(mu_);

 private:
  void Unpin(Pin::Entry* entry) EXCLUDES(mu_);
  // Closes least recently used unpinned files while more than capacity_ (0 after CloseAll)
  // are open.
  void Trim() REQUIRES(mu_);

  const std::string dir_;
  const size_t capacity_;
  // Held across flock(LOCK_SH) when a file's first pin comes: that waits only while an
  // eviction holds the file exclusively (one index delete and one hole punch). Open() of a
  // new file happens without it. A leaf.
  Mutex mu_;
  bool keep_ GUARDED_BY(mu_) = true;  // false after CloseAll
  std::list<Pin::Entry> lru_ GUARDED_BY(mu_);  // most recently used first
  std::unordered_map<std::string, std::list<Pin::Entry>::iterator> by_key_ GUARDED_BY(mu_);
};

struct OpenDataFiles::Pin::Entry {
  std::string key;
  int fd = -1;
  int pins = 0;  // guarded by OpenDataFiles::mu_
};

}  // namespace datumfs

#endif  // DATUMFS_CACHE_OPEN_DATA_FILES_H_
