#include "reader/readahead_policy.h"

#include <algorithm>

namespace datumfs {

void ReadaheadPolicy::Observe(uint64_t offset, uint64_t size) {
  uint64_t distance = offset > expected_ ? offset - expected_ : expected_ - offset;
  if (seen_ && distance <= options_.reorder_slack) {
    ++run_;
    expected_ = std::max(expected_, offset + size);
  } else {
    run_ = 0;
    window_ = 0;
    expected_ = offset + size;
  }
  seen_ = true;
}

ByteRange ReadaheadPolicy::Plan(uint64_t offset, uint64_t size, uint64_t file_size) {
  const uint64_t page = options_.page_size;
  uint64_t start = offset / page * page;
  uint64_t end = (offset + size + page - 1) / page * page;
  if (sequential()) {
    window_ = window_ == 0 ? options_.initial_window : std::min(window_ * 2, options_.max_window);
    end = std::max(end, start + window_);
  }
  end = std::min(end, file_size);
  return ByteRange{start, end - start};
}

}  // namespace datumfs
