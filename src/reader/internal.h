// The reader's shared state: open files, the ranges they hold in memory, and ranges being
// filled. Private to src/reader.
#ifndef DATUMFS_READER_INTERNAL_H_
#define DATUMFS_READER_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "datumfs/reader.h"
#include "reader/read_path.h"
#include "reader/readahead_policy.h"

namespace datumfs {

struct Waiter {
  uint64_t offset;
  size_t size;
  ReadDone done;
};

// Bytes the reader holds in memory for ranges, fetched or being fetched, across every open
// file. Read-ahead is started only while they are under the limit; reads themselves always go.
class ByteBudget {
 public:
  explicit ByteBudget(uint64_t limit) : limit_(limit) {}
  uint64_t Available() const {
    uint64_t used = used_.load(std::memory_order_relaxed);
    return used < limit_ ? limit_ - used : 0;
  }
  // What a bulk reader may use: the part of what is available above half the limit.
  uint64_t AvailableToBulk() const {
    uint64_t available = Available();
    return available > limit_ / 2 ? available - limit_ / 2 : 0;
  }
  void Charge(uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }
  void Refund(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  // Held while deciding on read-ahead and charging for it, so that files streaming at once
  // do not each spend the same free bytes.
  std::mutex mu;

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// One fetched (or being fetched) range of a file. Immutable once `ready`. Its bytes count
// against the budget for as long as it lives.
struct Range {
  Range(ByteRange r, std::shared_ptr<ByteBudget> b) : range(r), budget(std::move(b)) {
    budget->Charge(range.length);
  }
  ~Range() { budget->Refund(range.length); }
  Range(const Range&) = delete;
  Range& operator=(const Range&) = delete;

  const ByteRange range;
  const std::shared_ptr<ByteBudget> budget;
  bool ready = false;  // guarded by the file's mu_
  std::string data;
  std::vector<Waiter> waiters;  // guarded by the file's mu_

  bool Covers(uint64_t offset, size_t size) const {
    return range.offset <= offset && offset + size <= range.end();
  }
  void Reply(const Waiter& w) const {
    w.done(Status(), std::string_view(data).substr(w.offset - range.offset, w.size));
  }
};

class OpenFile {
 public:
  OpenFile(NodeId node, std::string key, const ReadaheadOptions& options, bool bulk)
      : node_(node), key_(std::move(key)), bulk_(bulk), policy_(options) {}

  const NodeId node_;
  const std::string key_;  // in the block cache
  const bool bulk_;        // yields to other readers (Reader::Open)
  std::mutex mu_;
  ReadaheadPolicy policy_;                     // guarded by mu_
  std::deque<std::shared_ptr<Range>> ranges_;  // guarded by mu_; most recent last
  // The last range that failed, for a moment: the kernel reads again at once after a failed
  // read-ahead, and that second try must not wait out a second deadline.
  ByteRange failed_;                                 // guarded by mu_
  Status failed_status_;                             // guarded by mu_
  std::chrono::steady_clock::time_point failed_at_;  // guarded by mu_
};

// A range being assembled: what the cache had, copied in at once, plus the parts fetched.
struct FillState {
  std::shared_ptr<OpenFile> file;
  std::shared_ptr<Range> range;
  std::chrono::steady_clock::time_point deadline;
  std::string buffer;            // range->range.length bytes
  std::vector<ByteRange> parts;  // to fetch
  bool claimed = false;          // parts are claimed in the cache
  std::mutex mu;
  size_t pending = 0;  // guarded by mu
  Status status;       // guarded by mu: the first failure
};

// Missing ranges closer than this are fetched in one request (the bytes between are few).
constexpr uint64_t kCoalesceGap = 16 * 1024;

// Merges ranges separated by at most `gap` bytes. `ranges` is sorted and disjoint.
std::vector<ByteRange> Coalesce(const std::vector<ByteRange>& ranges, uint64_t gap);

}  // namespace datumfs

#endif  // DATUMFS_READER_INTERNAL_H_
