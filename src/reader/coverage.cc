#include "reader/coverage.h"

#include <algorithm>

namespace datumfs {

bool Coverage::Add(uint64_t offset, uint64_t length) {
  if (done_ || given_up_ || length == 0) return false;
  uint64_t end = std::min(offset + length, size_);
  // Merge with every piece that overlaps or touches [offset, end).
  auto it = pieces_.upper_bound(offset);
  if (it != pieces_.begin() && std::prev(it)->second >= offset) --it;
  while (it != pieces_.end() && it->first <= end) {
    offset = std::min(offset, it->first);
    end = std::max(end, it->second);
    it = pieces_.erase(it);
  }
  pieces_.emplace(offset, end);
  if (pieces_.size() == 1 && pieces_.begin()->first == 0 && pieces_.begin()->second >= size_) {
    done_ = true;
    pieces_.clear();
    return true;
  }
  if (pieces_.size() > kMaxPieces) {
    given_up_ = true;
    pieces_.clear();
  }
  return false;
}

}  // namespace datumfs
