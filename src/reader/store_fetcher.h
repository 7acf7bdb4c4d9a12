// StoreFetcher: gets parts of files from the store. It asks the URL refresher for the newest
// URL, fetches the part, and once more with a fresh URL if the store refuses one (expired or
// revoked). A server that ignores Range (answers 200 with the whole body) gets one download of
// the whole object per file, shared by every reader of it in this process and streamed into
// the cache as it arrives. Thread-safe. Private to src/reader.
#ifndef DATUMFS_READER_STORE_FETCHER_H_
#define DATUMFS_READER_STORE_FETCHER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "base/mutex.h"
#include "datumfs/byte_range.h"
#include "datumfs/cache.h"
#include "datumfs/fetch.h"
#include "datumfs/tree.h"
#include "datumfs/url_refresher.h"

namespace datumfs {

class ByteBudget;
class CacheWriter;
class ObjectStream;
class OpenFile;

struct StoreFetcherOptions {
  uint64_t part_size = 8 << 20;  // a whole-object download hands bytes on in these chunks
  std::chrono::milliseconds read_timeout{30000};
  std::string mountpoint;  // prefixes file names in log lines
};

// One part of an open file to fetch, by `deadline`.
struct StorePart {
  std::shared_ptr<OpenFile> file;
  ByteRange range;
  std::chrono::steady_clock::time_point deadline;
};

class StoreFetcher {
 public:
  using Clock = std::chrono::steady_clock;
  // `refresher`, `cache` and `writer` may be null (no input_request API, no cache); they and
  // `fetcher` outlive this. `budget` counts the whole-object download's chunks on their way to
  // the cache. `stream_started` is called when such a download starts: its waiting parts must
  // be expired at their deadline (ExpireStreamWaits) from then on.
  StoreFetcher(const Tree& tree, Fetcher& fetcher, UrlSource* refresher, BlockCache* cache,
               CacheWriter* writer, std::shared_ptr<ByteBudget> budget,
               StoreFetcherOptions options, std::function<void()> stream_started);
  StoreFetcher(const StoreFetcher&) = delete;
  StoreFetcher& operator=(const StoreFetcher&) = delete;

  // Calls `done` once, with the part's bytes or why not.
  void Fetch(const StorePart& part, FetchDone done);
  // Whether the file's server was found to ignore Range (its bytes reach the cache through the
  // whole-object download, not through the reader).
  bool IgnoresRange(NodeId node) EXCLUDES(streams_mu_);
  // Whether any whole-object download runs; ends the parts waiting on one past their deadline.
  bool AnyStreams() EXCLUDES(streams_mu_);
  void ExpireStreamWaits() EXCLUDES(streams_mu_);

 private:
  // Fetches with the newest URL; once more with a fresh one if the store refuses it.
  void FetchWithUrl(const StorePart& part, bool after_refusal, const std::string& refused_url,
                    FetchDone done);
  void Fetched(const StorePart& part, bool after_refusal, const std::string& url,
               const FetchResult& result, std::string&& body, FetchDone done)
      EXCLUDES(streams_mu_);
  RangeRequest RequestFor(const StorePart& part, const std::string& url) const;
  FileUrl UrlOf(NodeId node) const;
  // Servers that ignore Range (store_stream.cc).
  void FetchFromStream(const StorePart& part, bool after_refusal, const std::string& url,
                       FetchDone done);
  bool JoinStream(const StorePart& part, const std::string& url, const FetchDone& done,
                  bool may_start) EXCLUDES(streams_mu_);
  void FetchAlone(const StorePart& part, const std::string& url, const FetchDone& done);
  std::shared_ptr<ObjectStream> MakeStream(const std::shared_ptr<OpenFile>& file);
  void StartStream(NodeId node, const std::string& url,
                   const std::shared_ptr<ObjectStream>& stream) EXCLUDES(streams_mu_);

  const Tree& tree_;
  Fetcher& fetcher_;
  UrlSource* const refresher_;
  BlockCache* const cache_;
  CacheWriter* const writer_;
  const std::shared_ptr<ByteBudget> budget_;
  const StoreFetcherOptions options_;
  const std::function<void()> stream_started_;
  // A leaf, held for no callback, fetch or log line. The reader's wait thread calls
  // AnyStreams() under its own wait mutex, so that one comes first.
  Mutex streams_mu_;
  std::set<NodeId> ignores_range_ GUARDED_BY(streams_mu_);
  std::map<NodeId, std::shared_ptr<ObjectStream>> streams_ GUARDED_BY(streams_mu_);
};

}  // namespace datumfs

#endif  // DATUMFS_READER_STORE_FETCHER_H_
