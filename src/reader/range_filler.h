// RangeFiller: gets the bytes of a new range of an open file. What the block cache holds is
// copied at once; the missing parts are claimed in the cache's index and fetched from the store
// (StoreFetcher), then handed to the CacheWriter. Parts another reader (in this process or
// another) has claimed are waited for in the cache, by a thread of its own, for half the read's
// time at most; then this reader fetches them itself. Thread-safe. Private to src/reader.
#ifndef DATUMFS_READER_RANGE_FILLER_H_
#define DATUMFS_READER_RANGE_FILLER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "datumfs/byte_range.h"
#include "datumfs/cache.h"
#include "datumfs/fetch.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"

namespace datumfs {

class CacheWriter;
class OpenFile;
class StoreFetcher;
struct FillState;
struct Range;

class RangeFiller {
 public:
  using Clock = std::chrono::steady_clock;
  // Publishes a range's bytes (or its failure) and replies to the reads waiting on it. Called
  // once per Fill, on any thread, with no lock of the filler held. On success it must publish
  // `bytes` (OpenFile::Publish): the cache writer takes them from the range afterwards.
  using CompleteFn = std::function<void(const std::shared_ptr<OpenFile>& file,
                                        const std::shared_ptr<Range>& range,
                                        const FetchResult& result, std::string&& bytes)>;
  // Told how many bytes of a file came from the store, and how many of them through a site
  // cache.
  using FetchedFn = std::function<void(NodeId node, uint64_t bytes, uint64_t site_cache_bytes)>;

  // `cache` and `writer` are null without a cache. All of them outlive this.
  RangeFiller(BlockCache* cache, CacheWriter* writer, StoreFetcher& store,
              std::chrono::milliseconds read_timeout, CompleteFn complete, FetchedFn fetched);
  ~RangeFiller();  // Stop()s
  RangeFiller(const RangeFiller&) = delete;
  RangeFiller& operator=(const RangeFiller&) = delete;

  // Fills `range` of `file`, replying through CompleteFn by `deadline` (the fetcher's).
  // `missing`, if not empty, is what the cache lacked of the range when the caller just
  // looked: it is not looked up again.
  void Fill(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
            Clock::time_point deadline, std::vector<ByteRange> missing = {})
      EXCLUDES(wait_mu_);
  // Has the wait thread look at the whole-object downloads now (one has started).
  void WakeWaiter() EXCLUDES(wait_mu_);
  // Ends the wait thread; ranges waiting for another process's claim fail with ECANCELED, and
  // so do later fills of parts someone else has claimed. Idempotent.
  void Stop() EXCLUDES(wait_mu_);

 private:
  struct Wait {
    std::shared_ptr<OpenFile> file;
    std::shared_ptr<Range> range;
    Clock::time_point deadline;
  };
  void FillFrom(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                Clock::time_point deadline, int attempt, std::vector<ByteRange> missing)
      EXCLUDES(wait_mu_);
  // Copies the cached parts of the range (everything but `gaps`) into fill.buffer.
  bool CopyCached(FillState& fill, const std::vector<ByteRange>& gaps);
  void FetchParts(const std::shared_ptr<FillState>& fill);
  void FetchPart(const std::shared_ptr<FillState>& fill, ByteRange part);
  void PartDone(const std::shared_ptr<FillState>& fill, ByteRange part, const FetchResult& result,
                std::string&& body);
  // Every part done: replies with `bytes` (or `result`'s error), then caches the bytes.
  void FinishFill(const std::shared_ptr<FillState>& fill, const FetchResult& result,
                  std::string&& bytes);
  // Fills the ranges other processes were fetching once the cache has them, and ends reads
  // waiting on a download without Range at their deadline. Looks every 10 ms while there are
  // any; sleeps until woken while there are none.
  void WaitLoop() EXCLUDES(wait_mu_);

  BlockCache* const cache_;
  CacheWriter* const writer_;
  StoreFetcher& store_;
  const std::chrono::milliseconds read_timeout_;
  const CompleteFn complete_;
  const FetchedFn fetched_;
  // Then the store fetcher's streams mutex may be taken (WaitLoop asks whether any
  // whole-object download runs). Held for no callback, reply, log line or I/O.
  Mutex wait_mu_;
  CondVar wait_cv_;  // new waits or streams, and Stop
  std::vector<Wait> waits_ GUARDED_BY(wait_mu_);  // ranges others are fetching
  bool stopping_ GUARDED_BY(wait_mu_) = false;
  std::thread waiter_;  // last: starts after everything above exists
};

}  // namespace datumfs

#endif  // DATUMFS_READER_RANGE_FILLER_H_
