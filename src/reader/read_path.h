// ReadPath: the reader's implementation behind include/datumfs/reader.h. Private to src/reader.
//
// Read() never blocks on the network. A read served by bytes already in memory completes
// inline; a miss asks ReadaheadPolicy what to fetch, submits it, and completes from the
// fetch's completion on the fetch thread. Reads that fall inside a range already being
// fetched wait for that transfer instead of fetching again. Each open file keeps its last few
// fetched ranges in memory; below that, the BlockCache (when there is one) serves what any
// mount on the host fetched before, and a read that is partly cached fetches only the span
// from its first missing byte to its last. Thread-safe.
#ifndef DATUMFS_READER_READ_PATH_H_
#define DATUMFS_READER_READ_PATH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "datumfs/cache.h"
#include "datumfs/fetch.h"
#include "datumfs/reader.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"
#include "datumfs/url_refresher.h"
#include "reader/read_through_log.h"

namespace datumfs {

class ByteBudget;
class CacheWriter;
class StoreFetcher;
class SerialQueue;
struct Range;
struct FillState;

class ReadPath {
 public:
  ReadPath(const Tree& tree, Fetcher& fetcher, BlockCache* cache, UrlRefresher* refresher,
           const ReaderOptions& options);
  ~ReadPath();
  ReadPath(const ReadPath&) = delete;
  ReadPath& operator=(const ReadPath&) = delete;

  // What Reader promises (reader.h). A bulk file's fetches are background requests; its
  // read-ahead window is smaller and may use only half the budget.
  std::shared_ptr<OpenFile> Open(NodeId node, bool bulk);
  void Read(std::shared_ptr<OpenFile> file, uint64_t offset, size_t size, ReadDone done);
  // Reads waiting for ranges other processes are fetching fail with ECANCELED.
  void Stop() EXCLUDES(wait_mu_);
  uint64_t CachedBytes(NodeId node) const;
  ReaderCounters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  // `done`, after logging that the file has been read through.
  ReadDone LoggingReadThrough(NodeId node, ReadDone done);
  // Gets the bytes of a new range: from the cache, and what is missing from the store, unless
  // someone else is fetching it (then it waits for the cache).
  void Fill(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
            Clock::time_point deadline, int attempt = 0);
  // Copies the cached parts of the range (everything but `gaps`) into fill.buffer.
  bool CopyCached(FillState& fill, const std::vector<ByteRange>& gaps);
  void FetchParts(const std::shared_ptr<FillState>& fill);
  void FetchPart(const std::shared_ptr<FillState>& fill, ByteRange part);
  void PartDone(const std::shared_ptr<FillState>& fill, ByteRange part, const Status& status,
                std::string&& body);
  // Every part done: replies with `bytes` (or `result`'s error), then caches the bytes.
  void FinishFill(const std::shared_ptr<FillState>& fill, const Status& result,
                  std::string&& bytes);
  // Fills the ranges other processes were fetching once the cache has them, and ends reads
  // waiting on a download without Range at their deadline. Looks every 10 ms while there are
  // any; sleeps until woken while there are none.
  void WaitLoop() EXCLUDES(wait_mu_);
  // Wakes WaitLoop to look at the waits and streams.
  void WakeWaiter() EXCLUDES(wait_mu_);
  void Complete(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                const Status& status, std::string&& data);
  std::string KeyOf(NodeId node) const;
  // The "path: fetched 28.9 kB in 0.2 s" line, once a file has been read through.
  void LogReadThrough(NodeId node);

  struct Wait {
    std::shared_ptr<OpenFile> file;
    std::shared_ptr<Range> range;
    Clock::time_point deadline;
  };

  const Tree& tree_;
  BlockCache* cache_;
  const std::shared_ptr<ByteBudget> budget_;
  // Lock order: wait_mu_, then the store fetcher's streams mutex (WaitLoop asks whether any
  // whole-object download runs under wait_mu_). Nothing else is taken under it; it is not held
  // with a file's mu_, a fill's mu or the budget's mu, nor across a callback, a reply, a log
  // line or I/O.
  Mutex wait_mu_;
  CondVar wait_cv_;  // new waits or streams, and Stop
  std::vector<Wait> waits_ GUARDED_BY(wait_mu_);  // ranges others are fetching
  bool stopping_ GUARDED_BY(wait_mu_) = false;
  std::thread waiter_;
  std::unique_ptr<CacheWriter> writer_;  // when there is a cache
  std::unique_ptr<StoreFetcher> store_;  // after writer_, which its downloads write to
  std::unique_ptr<SerialQueue> loader_;  // when there is a cache: cached read-ahead loads
  ReadThroughLog through_;
  std::atomic<uint64_t> reads_{0}, bytes_read_{0}, read_errors_{0};
  const ReaderOptions options_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READ_PATH_H_
