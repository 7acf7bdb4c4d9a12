// CacheWriter: puts fetched ranges into the block cache on a thread of its own, so that the
// fetch thread goes on receiving while the disk writes (a cache write of 8 MiB takes tens of
// milliseconds on a slow disk, and every transfer would wait for it). Jobs are written in the
// order given. Private to src/reader.
#ifndef DATUMFS_READER_CACHE_WRITER_H_
#define DATUMFS_READER_CACHE_WRITER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "datumfs/cache.h"

namespace datumfs {

struct Range;

struct CacheWrite {
  std::string key;
  std::shared_ptr<const Range> range;  // ready: its bytes no longer change
  std::vector<ByteRange> parts;        // of range, to insert (none: `after` runs once
                                       // everything queued before has been written)
  bool release_claims = false;         // the parts were claimed: release them once written
  std::function<void()> after;         // runs on the writer once the parts are in the cache
};

class CacheWriter {
 public:
  explicit CacheWriter(BlockCache& cache);
  ~CacheWriter();  // writes what is queued, then stops
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Queues `write`; once stopped, writes it at once on the caller's thread.
  void Submit(CacheWrite write);
  // Writes what is queued and stops the thread. Idempotent.
  void Stop();

 private:
  void Loop();
  void Write(const CacheWrite& write);

  BlockCache& cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<CacheWrite> queue_;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::thread thread_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_CACHE_WRITER_H_
