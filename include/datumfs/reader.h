// The reader: serves the FUSE adapter's reads of remote files from memory, the block cache
// and the store. Read() never blocks on the network: it replies inline or later, from another
// thread, exactly once, within ReaderOptions::read_timeout. Thread-safe. How: read_path.h.
#ifndef DATUMFS_READER_H_
#define DATUMFS_READER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "datumfs/status.h"
#include "datumfs/tree.h"

namespace datumfs {

struct ReaderOptions {
  // Every read returns data or an error within this time.
  std::chrono::milliseconds read_timeout{30000};
  // Fetched ranges kept in memory per open file, besides those ahead of its reader.
  size_t ranges_per_file = 4;
  // A sequential reader's read-ahead window grows up to this, in requests of part_size.
  uint64_t max_readahead = 64 << 20;
  uint64_t part_size = 8 << 20;
  // Bytes of ranges in memory (fetched or in flight) across all open files past which no
  // more read-ahead starts (reads always go).
  uint64_t readahead_budget = 256 << 20;
  // A bulk reader's read-ahead window grows up to this.
  uint64_t bulk_max_readahead = 16 << 20;
  // Files (of at most part_size) fetched whole ahead of a job opening them in order; 0: none.
  uint32_t walk_ahead_files = 64;
  // Prefix for file names in log lines ("/valohai/inputs").
  std::string mountpoint;
};

struct ReaderCounters {
  uint64_t reads = 0, read_errors = 0;
  uint64_t bytes_read = 0;  // returned to programs
  uint64_t files_read = 0;  // read from first to last byte through one open
  uint64_t walk_ahead_files = 0;  // files fetched ahead of a job's walk that it then opened
  uint64_t reads_from_cache_file = 0;  // answered through ReadFromFile
};

// Called exactly once; `bytes` lives only during the call. Fewer bytes than asked: end of file.
using ReadDone = std::function<void(const Status& status, std::string_view bytes)>;

// A read's bytes where they lie in the block cache: `fd` holds them at `offset`, and they stay
// there (pinned) until the call returns.
struct CacheFileBytes {
  int fd;
  uint64_t offset;
  size_t size;
};
// Answers a read from the cache's file, without the bytes passing through datumfs's memory
// (the FUSE adapter splices them). Called inline, on the reading thread.
using ReadFromFile = std::function<void(const CacheFileBytes& bytes)>;

class BlockCache;
class Fetcher;
class OpenFile;
class ReadPath;
class UrlRefresher;

class Reader {
 public:
  // `cache` and `refresher` may be null (no cache; URLs used as they are). All outlive it.
  Reader(const Tree& tree, Fetcher& fetcher, BlockCache* cache, UrlRefresher* refresher,
         const ReaderOptions& options);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // REQUIRES: a kRemoteFile. A `bulk` reader (O_NOATIME, as `datumfs prefetch`) yields.
  std::shared_ptr<OpenFile> Open(NodeId node, bool bulk = false);
  // `file` is taken by value: the program may close it as soon as `done` has replied. With
  // `from_file`, a read whose bytes are all in the block cache (and not already in memory) is
  // answered through it instead: exactly one of the two is called, once.
  void Read(std::shared_ptr<OpenFile> file, uint64_t offset, size_t size, ReadDone done,
            ReadFromFile from_file = nullptr);
  ReaderCounters counters() const;
  // Bytes of the file the block cache holds (0 without a cache).
  uint64_t CachedBytes(NodeId node) const;
  // Stops waiting; writes what was fetched to the cache. Call before destroying them. Idempotent.
  void Stop();

 private:
  std::unique_ptr<ReadPath> impl_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_H_
