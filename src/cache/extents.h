// Pure decisions of the cache: which parts of a range are missing, and which extents to evict.
#ifndef DATUMFS_CACHE_EXTENTS_H_
#define DATUMFS_CACHE_EXTENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "datumfs/byte_range.h"

namespace datumfs {

// One cached extent of an object, as the index records it.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t crc = 0;     // CRC32C of its bytes
  uint64_t atime = 0;   // last access, seconds since the epoch
  ByteRange range() const { return ByteRange{offset, length}; }
};

// The parts of `want` that no range of `have` covers, in order. `have` must be sorted by
// offset and must not overlap (as the extents of one object are).
std::vector<ByteRange> MissingRanges(const std::vector<ByteRange>& have, ByteRange want);

// Cuts `range` into pieces of at most `max_length` bytes.
std::vector<ByteRange> SplitRange(ByteRange range, uint64_t max_length);

struct EvictionCandidate {
  std::string key;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t atime = 0;
};

// Indexes into `candidates`, least recently used first, whose lengths add up to at least
// `bytes_to_free` (or all of them if they do not).
std::vector<size_t> PlanEviction(const std::vector<EvictionCandidate>& candidates,
                                 uint64_t bytes_to_free);

}  // namespace datumfs

#endif  // DATUMFS_CACHE_EXTENTS_H_
