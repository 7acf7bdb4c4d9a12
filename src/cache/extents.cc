#include "cache/extents.h"

#include <algorithm>
#include <numeric>

namespace datumfs {

std::vector<ByteRange> MissingRanges(const std::vector<ByteRange>& have, ByteRange want) {
  std::vector<ByteRange> missing;
  uint64_t pos = want.offset;
  for (const ByteRange& h : have) {
    if (h.end() <= pos) continue;
    if (h.offset >= want.end()) break;
    if (h.offset > pos) missing.push_back(ByteRange{pos, h.offset - pos});
    pos = std::max(pos, h.end());
    if (pos >= want.end()) break;
  }
  if (pos < want.end()) missing.push_back(ByteRange{pos, want.end() - pos});
  return missing;
}

std::vector<ByteRange> SplitRange(ByteRange range, uint64_t max_length) {
  std::vector<ByteRange> pieces;
  for (uint64_t pos = range.offset; pos < range.end(); pos += max_length) {
    pieces.push_back(ByteRange{pos, std::min(max_length, range.end() - pos)});
  }
  return pieces;
}

std::vector<size_t> PlanEviction(const std::vector<EvictionCandidate>& candidates,
                                 uint64_t bytes_to_free) {
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return candidates[a].atime < candidates[b].atime;
  });
  uint64_t freed = 0;
  size_t n = 0;
  while (n < order.size() && freed < bytes_to_free) freed += candidates[order[n++]].length;
  order.resize(n);
  return order;
}

}  // namespace datumfs
