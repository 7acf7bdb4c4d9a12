// The block cache: what datumfs has fetched, kept on disk and shared by every mount on the host.
//
// Bytes live in sparse files CACHE/data/<xx>/<key>, written at their offsets; an LMDB index
// (CACHE/index) lists the extents of each object with their CRC32C and last access. Bytes are
// written before their extent is indexed, and an extent counts only once indexed. The first
// time this process serves an extent it reads all of it and checks its CRC: a mismatch drops
// the extent (it is fetched again). A reader holds a shared flock on the data file while it
// reads; eviction takes it exclusively (and skips files in use), so an extent being read is
// never pulled from under the reader, in this process or another. The on-disk format is in
// doc/cache-format.md.
//
// Thread-safe. Failures to cache are never a reason for a read to fail: Insert() is best
// effort, and Read() answers "not cached" when in doubt.
#ifndef DATUMFS_CACHE_H_
#define DATUMFS_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/byte_range.h"
#include "datumfs/status.h"
#include "datumfs/units.h"

namespace datumfs {

struct CacheOptions {
  // Where the cache lives; created 0700 if missing.
  std::string dir = "/var/cache/datumfs";
  // Most bytes the cache may hold; 0: no limit beyond the disk.
  uint64_t max_bytes = 0;
  // Free space to leave on the cache's filesystem for the job. Unset: 10% of the filesystem,
  // and at least 1 GiB on filesystems of 10 GiB or more.
  std::optional<SizeOrPercent> min_free;
  // Longest extent; larger fetches are split.
  uint64_t max_extent = 8 << 20;
};

struct CacheCounters {
  uint64_t hits = 0;           // reads served wholly from the cache
  uint64_t misses = 0;
  uint64_t bytes_written = 0;
  uint64_t evictions = 0;      // extents evicted
  uint64_t evicted_bytes = 0;
  uint64_t corrupt_extents = 0;  // CRC mismatches found (and dropped)
  uint64_t write_failures = 0;   // extents not cached (disk full even after eviction, ...)
};

// Cached bytes of one object, pinned where they lie in the cache's data file: they cannot be
// evicted, by this process or another, until this is destroyed. For a reply that does not copy
// them (splice from fd()).
class PinnedBytes {
 public:
  virtual ~PinnedBytes() = default;
  // Holds the object's bytes at their own offsets. Valid while this lives.
  virtual int fd() const = 0;
};

class BlockCache {
 public:
  // Creates the cache directory (0700) if needed and checks that it can be used, without
  // opening the index: a daemon checks this before it forks, and opens after.
  static Status Prepare(const CacheOptions& options);

  // Opens or creates the cache. An index that cannot be opened is moved aside and the cache
  // starts empty (logged); an error means the directory itself is unusable.
  static Result<std::unique_ptr<BlockCache>> Open(const CacheOptions& options);
  virtual ~BlockCache() = default;

  // The cache key of an object: its datum id, or for a file without one a hash of its URL
  // without the query string, plus its size. Safe as a file name.
  static std::string KeyFor(std::string_view datum_id, std::string_view url, uint64_t size);

  // All bytes of `range` of `key` if every one of them is cached and checks out; otherwise
  // nullopt (an extent that fails its CRC is dropped first).
  virtual std::optional<std::string> Read(std::string_view key, ByteRange range) = 0;
  // Pins `range` of `key` if every byte of it is cached, in extents that have passed their CRC
  // check in this process (one not checked yet is checked now, and dropped if it fails);
  // otherwise null. The bytes are served by the caller from the pinned file.
  virtual std::unique_ptr<PinnedBytes> Pin(std::string_view key, ByteRange range) = 0;
  // The parts of `range` of `key` that are not cached, in order.
  virtual std::vector<ByteRange> Missing(std::string_view key, ByteRange range) = 0;
  // Stores bytes [offset, offset + bytes.size()) of `key`; parts already cached are skipped.
  // Evicts first when over the limits; on a full disk evicts and retries once, then gives up.
  virtual void Insert(std::string_view key, uint64_t offset, std::string_view bytes) = 0;
  // Insert, then Release(key, release), in one index transaction when anything is stored: a
  // cold read costs two write transactions (claim; insert and release), not three.
  virtual void InsertAndRelease(std::string_view key, uint64_t offset, std::string_view bytes,
                                const std::vector<ByteRange>& release) = 0;
  // Drops every extent of `key` (those being read are skipped).
  virtual void DropObject(std::string_view key) = 0;

  // Claims `ranges` of `key` for fetching by this process, so that other processes (and other
  // readers in this one) wait for the bytes to arrive in the cache instead of fetching them
  // too. False if someone else is fetching any of them. A claim lasts `ttl_seconds` at most,
  // and one whose process has died is taken over.
  virtual bool Claim(std::string_view key, const std::vector<ByteRange>& ranges,
                     uint64_t ttl_seconds) = 0;
  // Gives up this process's claims (after the bytes were inserted, or the fetch failed).
  virtual void Release(std::string_view key, const std::vector<ByteRange>& ranges) = 0;

  // Evicts least recently used extents down to the limits' low watermarks now. With `all`,
  // evicts everything not in use.
  virtual Status Evict(bool all) = 0;
  // Bytes the index holds.
  virtual uint64_t TotalBytes() = 0;

  // One line of `datumfs cache ls`.
  struct ObjectSummary {
    std::string key;
    uint64_t bytes = 0;
    uint64_t extents = 0;
    uint64_t last_use = 0;  // seconds since the epoch
  };
  virtual Result<std::vector<ObjectSummary>> List() = 0;

  // Re-reads every extent and checks its CRC; bad ones are dropped. Extents in use by a reader
  // are checked too (they cannot be dropped until it is done: they are counted as bad and
  // dropped by the next read that finds them so).
  struct VerifyReport {
    uint64_t extents = 0;
    uint64_t bytes = 0;
    std::vector<std::string> bad;  // "key bytes A-B"
  };
  virtual Result<VerifyReport> Verify() = 0;
  virtual CacheCounters counters() const = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_CACHE_H_
