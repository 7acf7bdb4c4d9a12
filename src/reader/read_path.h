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
class SerialQueue;
class ObjectStream;
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
  RangeRequest RequestFor(const FillState& fill, ByteRange part, const std::string& url) const;
  void FetchParts(const std::shared_ptr<FillState>& fill);
  // Fetches one part with the newest URL; once more with a fresh one if the store refuses it.
  void FetchPart(const std::shared_ptr<FillState>& fill, ByteRange part, bool after_refusal,
                 const std::string& refused_url);
  void PartFetched(const std::shared_ptr<FillState>& fill, ByteRange part, bool after_refusal,
                   const std::string& url, const Status& status, std::string&& body);
  // Servers that ignore Range (stream.cc).
  bool IgnoresRange(NodeId node) EXCLUDES(streams_mu_);
  void FetchFromStream(const std::shared_ptr<FillState>& fill, ByteRange part,
                       bool after_refusal, const std::string& url);
  bool JoinStream(const std::shared_ptr<FillState>& fill, ByteRange part, const std::string& url,
                  const FetchDone& done, bool may_start);
  void FetchAlone(const std::shared_ptr<FillState>& fill, ByteRange part, const std::string& url,
                  const FetchDone& done);
  std::shared_ptr<ObjectStream> MakeStream(const std::shared_ptr<OpenFile>& file);
  void StartStream(NodeId node, const std::string& url,
                   const std::shared_ptr<ObjectStream>& stream);
  void ExpireStreamWaits() EXCLUDES(streams_mu_);
  void PartDone(const std::shared_ptr<FillState>& fill, ByteRange part, const Status& status,
                std::string&& body);
  FileUrl UrlOf(NodeId node) const;
  // Every part done: replies with `bytes` (or `result`'s error), then caches the bytes.
  void FinishFill(const std::shared_ptr<FillState>& fill, const Status& result,
                  std::string&& bytes);
  // Inserts `parts` of the ready `range` into the cache on the writer thread, then releases
  // their claims if asked, then runs `after`.
  void WriteToCache(const std::string& key, std::shared_ptr<const Range> range,
                    std::vector<ByteRange> parts, bool release_claims,
                    std::function<void()> after);
  // Fills the ranges other processes were fetching once the cache has them, and ends reads
  // waiting on a download without Range at their deadline. Looks every 10 ms while there are
  // any; sleeps until woken while there are none.
  void WaitLoop() EXCLUDES(wait_mu_);
  bool AnyStreams() REQUIRES(wait_mu_) EXCLUDES(streams_mu_);
  // Wakes WaitLoop to look at the waits and streams.
  void WakeWaiter() EXCLUDES(wait_mu_);
  // Once a file is wholly cached, checks it against the checksum inputs.json gave (on the
  // verifier's queue); a mismatch is logged loudly and the file's cached extents are dropped.
  void MaybeQueueVerify(NodeId node, const std::string& key) EXCLUDES(verify_mu_);
  void Verify(NodeId node, const std::string& key) EXCLUDES(verify_mu_);
  bool Stopping() EXCLUDES(wait_mu_);
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
  Fetcher& fetcher_;
  BlockCache* cache_;
  UrlRefresher* refresher_;
  const std::shared_ptr<ByteBudget> budget_;
  // Lock order: wait_mu_ before streams_mu_ (WaitLoop looks at streams_ under wait_mu_).
  // Nothing else is locked under either, nor under verify_mu_; none is held with a file's
  // mu_, a fill's mu or the budget's mu, nor across a callback, a reply, a log line or I/O.
  Mutex wait_mu_ ACQUIRED_BEFORE(streams_mu_);
  CondVar wait_cv_;  // new waits or streams, and Stop
  std::vector<Wait> waits_ GUARDED_BY(wait_mu_);  // ranges others are fetching
  bool stopping_ GUARDED_BY(wait_mu_) = false;
  Mutex verify_mu_;
  std::set<NodeId> verify_started_ GUARDED_BY(verify_mu_);
  // Files with checksums, partly cached: bytes from 0 found cached. Only an eviction can make
  // that untrue, and then Verify finds a miss and the look starts over.
  std::map<NodeId, uint64_t> cached_prefix_ GUARDED_BY(verify_mu_);
  Mutex streams_mu_;
  std::set<NodeId> ignores_range_ GUARDED_BY(streams_mu_);
  std::map<NodeId, std::shared_ptr<ObjectStream>> streams_ GUARDED_BY(streams_mu_);
  std::thread waiter_;
  std::unique_ptr<SerialQueue> writer_;  // when there is a cache: cache writes, in order
  std::unique_ptr<SerialQueue> loader_;  // when there is a cache: cached read-ahead loads
  std::unique_ptr<SerialQueue> verifier_;  // when there is a cache: whole-file checksums
  ReadThroughLog through_;
  std::atomic<uint64_t> reads_{0}, bytes_read_{0}, read_errors_{0};
  const ReaderOptions options_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READ_PATH_H_
