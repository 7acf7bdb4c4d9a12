// VerifiedSet: the extents this process has already checked against their CRC, so that a
// warm read does not hash the same bytes again. Fixed memory (1 MiB), whatever the cache
// holds or has held: a direct-mapped table of 64-bit fingerprints of (key, offset, length,
// crc), where a newer extent overwrites the older one in its slot. Forgetting costs only a
// CRC check again; a false "checked" needs two extents' fingerprints to agree in all 64 bits.
// Not thread-safe (the cache holds it under a mutex). Private to src/cache.
#ifndef DATUMFS_CACHE_VERIFIED_SET_H_
#define DATUMFS_CACHE_VERIFIED_SET_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "cache/extents.h"

namespace datumfs {

class VerifiedSet {
 public:
  static constexpr size_t kSlots = 1 << 17;

  VerifiedSet() : slots_(kSlots, 0) {}

  bool Contains(std::string_view key, const Extent& e) const {
    const uint64_t f = Fingerprint(key, e);
    return slots_[f % kSlots] == f;
  }
  void Insert(std::string_view key, const Extent& e) {
    const uint64_t f = Fingerprint(key, e);
    slots_[f % kSlots] = f;
  }

  size_t memory_bytes() const { return slots_.size() * sizeof(uint64_t); }

  // Never 0, which marks an empty slot.
  static uint64_t Fingerprint(std::string_view key, const Extent& e) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the key, then the extent mixed in
    for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
    h = Mix(h ^ e.offset);
    h = Mix(h ^ e.length);
    h = Mix(h ^ e.crc);
    return h == 0 ? 1 : h;
  }

 private:
  static uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }

  std::vector<uint64_t> slots_;
};

}  // namespace datumfs

#endif  // DATUMFS_CACHE_VERIFIED_SET_H_
