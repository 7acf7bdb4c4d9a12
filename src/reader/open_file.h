// The per-open-file state of the reader: the ranges a file handle holds in memory (fetched or
// being fetched), who waits for them, its read-ahead policy, and the memory budget all open
// files share. Private to src/reader.
#ifndef DATUMFS_READER_OPEN_FILE_H_
#define DATUMFS_READER_OPEN_FILE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "datumfs/byte_range.h"
#include "datumfs/reader.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"
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
  // do not each spend the same free bytes. Taken under a file's mu_; a leaf.
  Mutex mu;

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
  // The failure of a range overlapping `read` that failed within the last second, if any.
  std::optional<Status> RecentFailure(ByteRange read) const REQUIRES(mu_);
  // Starts the read-ahead the policy asks for after a read ending at `read_end`, as far as
  // `budget` allows: new ranges, to be filled.
  std::vector<std::shared_ptr<Range>> StartAhead(uint64_t read_end, uint64_t file_size,
                                                 const std::shared_ptr<ByteBudget>& budget)
      REQUIRES(mu_);
  // Forgets ready ranges the reader has left behind `offset`, and all but the newest `keep` of
  // the others that do not lie ahead of it.
  void Prune(uint64_t offset, size_t keep) REQUIRES(mu_);
  // Remembers `range`'s failure, for RecentFailure.
  void NoteFailure(ByteRange range, const Status& status) REQUIRES(mu_);
  // A filled range: its bytes are served from now on. Returns the reads waiting on it, to be
  // answered once mu_ is let go.
  std::vector<Waiter> Publish(const std::shared_ptr<Range>& range, std::string&& data)
      REQUIRES(mu_);
  // A range that failed: forgotten (a later read tries again), its failure noted. Returns the
  // reads waiting on it, to be failed once mu_ is let go.
  std::vector<Waiter> Forget(const std::shared_ptr<Range>& range, const Status& failed)
      REQUIRES(mu_);

  // Also guards its ranges' `ready` and `waiters`. Held for no callback, reply or I/O; only
  // the budget's mu is taken under it.
  Mutex mu_;
  ReadaheadPolicy policy_ GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Range>> ranges_ GUARDED_BY(mu_);  // most recent last
  // The last range that failed, for a moment: the kernel reads again at once after a failed
  // read-ahead, and that second try must not wait out a second deadline.
  ByteRange failed_ GUARDED_BY(mu_);
  Status failed_status_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point failed_at_ GUARDED_BY(mu_);
};

}  // namespace datumfs

#endif  // DATUMFS_READER_OPEN_FILE_H_
