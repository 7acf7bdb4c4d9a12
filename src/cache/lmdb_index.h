// The cache index: an LMDB environment shared by every datumfs process on the host.
//
// Database "extents": (object key, extent offset) -> (length, CRC32C, last access). The key
// is the object key, a NUL, then the offset big-endian, so that LMDB's memcmp order is the
// offset order within an object. Database "meta": "total_bytes", the sum of all extent
// lengths, kept in the same transactions as the extents. Database "claims": (object key,
// offset) -> who is fetching that range now. The layout is in doc/cache-format.md.
//
// The map is large from the start (it is address space, not disk: the file grows as pages are
// used). Should it fill up anyway it is grown, and a map grown by another process is adopted;
// LMDB allows that only while this process has no transaction open, so every transaction holds
// txn_mu_ shared and a resize holds it exclusively. Thread-safe (LMDB serialises writers,
// across processes too).
#ifndef DATUMFS_CACHE_LMDB_INDEX_H_
#define DATUMFS_CACHE_LMDB_INDEX_H_

#include <lmdb.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cache/extents.h"
#include "datumfs/status.h"

namespace datumfs {

// The bytes of an LMDB value (valid while its transaction lives).
inline std::string_view MdbView(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// No extent is longer (CacheOptions::max_extent is 8 MiB): a longer one is a damaged record.
constexpr uint64_t kMaxExtentLength = uint64_t{1} << 30;

// Encoding, exposed for tests.
std::string EncodeExtentKey(std::string_view key, uint64_t offset);
bool DecodeExtentKey(std::string_view encoded, std::string* key, uint64_t* offset);
std::string EncodeExtentValue(const Extent& e);
bool DecodeExtentValue(std::string_view encoded, uint64_t offset, Extent* e);

class LmdbIndex {
 public:
  // Opens (creating) the environment in directory `dir`. An environment that cannot be opened
  // as LMDB is an error: the caller moves it aside.
  // `map_size` is the map to start with (tests make it small to see it grow).
  static constexpr size_t kDefaultMapSize = size_t{8} << 30;  // about 40 million extents
  static Result<std::unique_ptr<LmdbIndex>> Open(const std::string& dir,
                                                 size_t map_size = kDefaultMapSize);
  ~LmdbIndex();
  LmdbIndex(const LmdbIndex&) = delete;
  LmdbIndex& operator=(const LmdbIndex&) = delete;

  // The extents of `key` that overlap `range`, by offset.
  Result<std::vector<Extent>> Overlapping(std::string_view key, ByteRange range);
  struct Claim;
  // Adds extents of `key` (which must not overlap indexed ones) in one transaction, which also
  // removes the claims of `me` on `release` (if given): a fill's claims end as its bytes land.
  Status Put(std::string_view key, const std::vector<Extent>& extents,
             const std::vector<ByteRange>& release = {}, const Claim* me = nullptr);
  // Removes one extent if it is there; returns its length (0 if it was not).
  Result<uint64_t> Delete(std::string_view key, uint64_t offset);
  // Sets the last access of extents that still exist, in one transaction.
  struct Touch {
    std::string key;
    uint64_t offset;
    uint64_t atime;
  };
  Status TouchAll(const std::vector<Touch>& touches);
  Result<uint64_t> TotalBytes();
  // A range some process is fetching.
  struct Claim {
    uint64_t offset = 0;
    uint64_t length = 0;
    uint64_t pid_namespace = 0;  // inode of /proc/self/ns/pid: pids compare only within one
    uint32_t pid = 0;
    uint64_t expires = 0;  // seconds since the epoch; a claim past it is stale
  };
  // Claims every range of `ranges` of `key` for `me` in one transaction, unless a claim that
  // `is_live` accepts overlaps one of them (then claims nothing and returns false). Claims
  // found stale on the way are removed.
  Result<bool> ClaimAll(std::string_view key, const std::vector<ByteRange>& ranges,
                        const Claim& me, const std::function<bool(const Claim&)>& is_live);
  // Removes the claims of `me` on `ranges` of `key`.
  Status ReleaseAll(std::string_view key, const std::vector<ByteRange>& ranges, const Claim& me);

  // True while `dir`/data.mdb is still the file this index has open (not deleted or
  // replaced since).
  bool StillAt(const std::string& dir);

  // Calls `fn` for every extent, in key order, inside one read transaction.
  Status ForEach(const std::function<void(std::string_view key, const Extent&)>& fn);

 private:
  explicit LmdbIndex(MDB_env* env) : env_(env) {}
  // Runs `fn` in a write transaction, growing the map when it fills up.
  Status Write(const std::function<int(MDB_txn*)>& fn);
  // ReleaseAll's work inside a write transaction.
  int ReleaseIn(MDB_txn* txn, std::string_view key, const std::vector<ByteRange>& ranges,
                const Claim& me);
  Status Read(const std::function<int(MDB_txn*)>& fn);
  // Runs `fn` in a transaction of `flags` under txn_mu_ (shared), adopting a map another
  // process grew. Returns LMDB's code: fn's, the commit's, or the begin's.
  int Run(unsigned flags, const std::function<int(MDB_txn*)>& fn);
  int RunOnce(unsigned flags, const std::function<int(MDB_txn*)>& fn);
  // Sets the map size (0: adopt the one in the file). Takes txn_mu_ exclusively.
  void Resize(size_t size);

  MDB_env* env_;
  MDB_dbi extents_ = 0;
  MDB_dbi meta_ = 0;
  MDB_dbi claims_ = 0;
  // Shared by every transaction of this process, for as long as it is open; exclusive while
  // the map is resized (mdb_env_set_mapsize with a transaction open corrupts memory).
  std::shared_mutex txn_mu_;
  // Held by a resize from before it waits for txn_mu_ until it is done; transactions that see
  // `resizing_` wait on it first, so that a stream of readers cannot starve the resize.
  std::mutex resize_mu_;
  std::atomic<bool> resizing_{false};
  // Set on the first error that says the pages are damaged: from then on no transaction
  // touches them (each fails at once), and the cache works as a miss for this process.
  std::atomic<bool> damaged_{false};
};

std::string EncodeClaim(const LmdbIndex::Claim& c);
bool DecodeClaim(std::string_view encoded, uint64_t offset, LmdbIndex::Claim* c);

}  // namespace datumfs

#endif  // DATUMFS_CACHE_LMDB_INDEX_H_
