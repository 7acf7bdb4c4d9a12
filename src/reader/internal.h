// Ranges being filled. Private to src/reader.
#ifndef DATUMFS_READER_INTERNAL_H_
#define DATUMFS_READER_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "datumfs/reader.h"
#include "reader/open_file.h"
#include "reader/read_path.h"

namespace datumfs {

// A range being assembled: what the cache had, copied in at once, plus the parts fetched.
struct FillState {
  std::shared_ptr<OpenFile> file;
  std::shared_ptr<Range> range;
  std::chrono::steady_clock::time_point deadline;
  std::string buffer;            // range->range.length bytes; guarded by mu once parts are out
  std::vector<ByteRange> parts;  // to fetch
  bool claimed = false;          // parts are claimed in the cache
  Mutex mu;  // a leaf; the last part's completion takes the result out and lets go of it
  size_t pending GUARDED_BY(mu) = 0;
  Status status GUARDED_BY(mu);  // the first failure
};

// Missing ranges closer than this are fetched in one request (the bytes between are few).
constexpr uint64_t kCoalesceGap = 16 * 1024;

// Merges ranges separated by at most `gap` bytes. `ranges` is sorted and disjoint.
std::vector<ByteRange> Coalesce(const std::vector<ByteRange>& ranges, uint64_t gap);

}  // namespace datumfs

#endif  // DATUMFS_READER_INTERNAL_H_
