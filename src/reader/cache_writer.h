// CacheWriter: puts what the reader fetched into the block cache, off the fetch thread (which
// goes on receiving while the disk writes: an 8 MiB write takes tens of milliseconds on a slow
// disk), in the order given. Once a file that inputs.json gave a checksum for is wholly cached,
// it is checked (sha256, else sha1, else md5) on a queue of its own, so that no write waits
// behind a hash of gigabytes; a mismatch is logged loudly and the file's cached extents are
// dropped. Thread-safe. Private to src/reader.
#ifndef DATUMFS_READER_CACHE_WRITER_H_
#define DATUMFS_READER_CACHE_WRITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "datumfs/byte_range.h"
#include "datumfs/cache.h"
#include "datumfs/tree.h"
#include "reader/serial_queue.h"

namespace datumfs {

struct Range;

class CacheWriter {
 public:
  // `mountpoint` prefixes file names in log lines.
  CacheWriter(const Tree& tree, BlockCache& cache, std::string mountpoint);
  ~CacheWriter();  // Stop()s
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Inserts `parts` of the ready `range` of `node` (cache key `key`), keeping the range alive
  // until then. With the last part's bytes, in the same index transaction, the claims of
  // `parts` end if `release_claims`. Then, if that made the file whole, queues its check.
  void Write(NodeId node, const std::string& key, std::shared_ptr<const Range> range,
             std::vector<ByteRange> parts, bool release_claims);
  // Runs `task` on the writer's thread once the writes queued before it are done.
  void AfterWrites(std::function<void()> task);
  // Writes what is queued, then stops; checks are cut short (they may read gigabytes). Later writes run at once on the caller's thread. Idempotent.
  void Stop();

 private:
  void MaybeQueueCheck(NodeId node, const std::string& key) EXCLUDES(mu_);
  void Check(NodeId node, const std::string& key) EXCLUDES(mu_);

  const Tree& tree_;
  BlockCache& cache_;
  const std::string mountpoint_;
  std::atomic<bool> stopping_{false};
  Mutex mu_;  // a leaf: held for no cache call and no log line
  std::set<NodeId> check_started_ GUARDED_BY(mu_);
  // Files with checksums, partly cached: bytes from 0 found cached. Only an eviction can make
  // that untrue, and then Check finds a miss and the look starts over.
  std::map<NodeId, uint64_t> cached_prefix_ GUARDED_BY(mu_);
  SerialQueue writes_;
  SerialQueue checks_;  // after writes_: destroyed first, since writes queue checks
};

}  // namespace datumfs

#endif  // DATUMFS_READER_CACHE_WRITER_H_
