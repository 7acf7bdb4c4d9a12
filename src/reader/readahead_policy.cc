#include "reader/readahead_policy.h"

#include <algorithm>

namespace datumfs {

void ReadaheadPolicy::Reset() {
  run_ = 0;
  run_bytes_ = 0;
  window_ = 0;
  ahead_end_ = 0;
}

void ReadaheadPolicy::Observe(uint64_t offset, uint64_t size) {
  uint64_t distance = offset > expected_ ? offset - expected_ : expected_ - offset;
  if (seen_ && distance <= options_.reorder_slack) {
    ++run_;
    run_bytes_ += size;
    expected_ = std::max(expected_, offset + size);
  } else {
    Reset();
    run_bytes_ = size;
    expected_ = offset + size;
  }
  seen_ = true;
}

ByteRange ReadaheadPolicy::Demand(uint64_t offset, uint64_t size, uint64_t file_size) {
  // Small files are mostly read whole: one request instead of one per kernel read.
  if (offset == 0 && file_size <= options_.whole_file_below) {
    ahead_end_ = file_size;  // nothing left to read ahead once the stream starts
    return ByteRange{0, file_size};
  }
  uint64_t start = offset / options_.page_size * options_.page_size;
  uint64_t end = AlignUp(offset + size, options_.page_size);
  if (sequential()) {
    end = AlignUp(offset + size, options_.align);
    ahead_end_ = std::max(ahead_end_, std::min(end, file_size));
  }
  end = std::min(end, file_size);
  return ByteRange{start, end - start};
}

uint64_t ReadaheadPolicy::NextWindow() const {
  if (window_ == 0) return options_.initial_window;
  uint64_t window = std::min(window_ * 2, options_.max_window);
  // It doubles only while that keeps it within initial_window + 1/window_share of what the
  // stream has read.
  if (options_.window_share != 0 &&
      window > options_.initial_window + run_bytes_ / options_.window_share) {
    return window_;
  }
  return window;
}

std::vector<ByteRange> ReadaheadPolicy::Ahead(uint64_t read_end, uint64_t file_size,
                                              uint64_t budget) {
  std::vector<ByteRange> parts;
  if (!sequential()) return parts;
  uint64_t from = std::max(ahead_end_, AlignUp(read_end, options_.align));
  if (from >= file_size) return parts;
  // Top the window up only once half of it is used, so that requests stay big.
  if (window_ != 0 && from - read_end >= window_ / 2) return parts;
  const uint64_t window = NextWindow();
  // Parts of a quarter of the window, so that even a small window is several requests in
  // flight at once (each connection is capped; every request waits a round trip), ending on
  // multiples of their size so that the next top-up goes on in whole parts.
  const uint64_t piece = std::max(options_.align, window / 4 / options_.align * options_.align);
  uint64_t to = read_end + window;
  to = to >= file_size ? file_size : to / piece * piece;
  if (to > from && to - from > budget) to = (from + budget) / options_.page_size * options_.page_size;
  if (to <= from) return parts;  // no budget left, or less than a part: the next read tries
  window_ = window;
  for (uint64_t pos = from; pos < to;) {
    uint64_t end = std::min(
        {to, (pos / piece + 1) * piece, (pos / options_.part_size + 1) * options_.part_size});
    parts.push_back(ByteRange{pos, end - pos});
    pos = end;
  }
  ahead_end_ = to;
  return parts;
}

}  // namespace datumfs
