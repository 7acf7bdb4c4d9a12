// ReadPath: the reader's implementation behind include/datumfs/reader.h. Private to src/reader.
//
// Read() never blocks on the network. A read served by bytes already in memory completes
// inline; a miss asks the file's ReadaheadPolicy what to fetch, has the RangeFiller fill it
// (from the cache, the store through the StoreFetcher, or another process's fetch), and
// completes when it is filled, usually on the fetch thread. A read the block cache holds
// wholly, and memory does not, is answered from the cache's file when the caller can take
// that (ReadFromFile: no copy, and no read-ahead into memory for it). Reads that fall inside a
// range already being filled wait for it instead of fetching again. Each open file keeps its last
// few ranges in memory (OpenFile); the BlockCache, when there is one, serves what any mount on
// the host fetched before. Thread-safe.
#ifndef DATUMFS_READER_READ_PATH_H_
#define DATUMFS_READER_READ_PATH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

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
class OpenFile;
class RangeFiller;
class SerialQueue;
class StoreFetcher;
class WalkAhead;
struct Range;

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
  void Read(std::shared_ptr<OpenFile> file, uint64_t offset, size_t size, ReadDone done,
            ReadFromFile from_file = nullptr);
  // Reads waiting for ranges other processes are fetching fail with ECANCELED.
  void Stop();
  uint64_t CachedBytes(NodeId node) const;
  ReaderCounters counters() const;

 private:
  using Clock = std::chrono::steady_clock;
  // `done`, after logging that the file has been read through.
  ReadDone LoggingReadThrough(NodeId node, ReadDone done);
  // Answers the read through `from_file` if the cache holds all of it and no range in memory
  // covers it; false if it did not.
  bool ReadFromCacheFile(const std::shared_ptr<OpenFile>& file, uint64_t offset, size_t size,
                         bool read_through, const ReadFromFile& from_file);
  void Complete(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                const FetchResult& result, std::string&& data);
  void Fail(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
            const FetchResult& result);
  std::string KeyOf(NodeId node) const;
  std::shared_ptr<OpenFile> NewOpenFile(NodeId node, bool bulk) const;
  // Starts fetching all of a small file for WalkAhead; null if it is not worth it or the
  // budget is spent.
  std::shared_ptr<OpenFile> FetchWhole(NodeId node);
  // Fills `range` of `file`: off the calling thread when the cache holds all of it.
  void StartFill(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                 Clock::time_point deadline);
  // The "path: fetched 28.9 kB in 0.2 s" line, once a file has been read through.
  void LogReadThrough(NodeId node);

  const Tree& tree_;
  BlockCache* cache_;
  const ReaderOptions options_;
  const std::shared_ptr<ByteBudget> budget_;
  ReadThroughLog through_;
  std::atomic<uint64_t> reads_{0}, bytes_read_{0}, read_errors_{0}, from_file_{0};
  // Each after what it uses (so destroyed before it).
  std::unique_ptr<CacheWriter> writer_;  // when there is a cache
  std::unique_ptr<StoreFetcher> store_;
  std::unique_ptr<RangeFiller> filler_;
  std::unique_ptr<SerialQueue> loader_;  // when there is a cache: cached read-ahead loads
  std::unique_ptr<WalkAhead> walk_;      // unless options_.walk_ahead_files is 0
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READ_PATH_H_
