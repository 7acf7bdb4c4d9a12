#include "reader/store_fetcher.h"

#include <cerrno>

#include "datumfs/cache.h"
#include "reader/object_stream.h"
#include "reader/open_file.h"

namespace datumfs {

StoreFetcher::StoreFetcher(const Tree& tree, Fetcher& fetcher, UrlSource* refresher,
                           BlockCache* cache, CacheWriter* writer,
                           std::shared_ptr<ByteBudget> budget, StoreFetcherOptions options,
                           std::function<void()> stream_started)
    : tree_(tree),
      fetcher_(fetcher),
      refresher_(refresher),
      cache_(cache),
      writer_(writer),
      budget_(std::move(budget)),
      options_(std::move(options)),
      stream_started_(std::move(stream_started)) {}

void StoreFetcher::Fetch(const StorePart& part, FetchDone done) {
  FetchWithUrl(part, false, "", std::move(done));
}

FileUrl StoreFetcher::UrlOf(NodeId node) const {
  RemoteFileInfo info = tree_.remote(node);
  const Input& input = tree_.inputs()[info.input_index];
  std::string path = tree_.Path(node);
  return FileUrl{input.input_id, input.name, path.substr(input.name.size() + 1),
                 std::string(info.url)};
}

RangeRequest StoreFetcher::RequestFor(const StorePart& part, const std::string& url) const {
  RangeRequest request;
  request.url = url;
  request.offset = part.range.offset;
  request.length = part.range.length;
  request.object_size = tree_.size(part.file->node_);
  request.deadline = part.deadline;
  request.background = part.file->bulk_;
  RemoteFileInfo info = tree_.remote(part.file->node_);
  request.site_key = BlockCache::KeyFor(info.datum_id, info.url, request.object_size);
  return request;
}

void StoreFetcher::FetchWithUrl(const StorePart& part, bool after_refusal,
                                const std::string& refused_url, FetchDone done) {
  auto submit = [this, part, after_refusal, done](const Status& resolved, const std::string& url) {
    if (!resolved.ok()) return done(FetchResult{FetchOutcome::kFailed, resolved}, "");
    if (IgnoresRange(part.file->node_)) return FetchFromStream(part, after_refusal, url, done);
    fetcher_.Submit(RequestFor(part, url), [this, part, after_refusal, url, done](
                                               const FetchResult& result, std::string&& body) {
      Fetched(part, after_refusal, url, result, std::move(body), done);
    });
  };
  if (!refresher_) return submit(Status(), std::string(tree_.remote(part.file->node_).url));
  refresher_->Resolve(UrlOf(part.file->node_), after_refusal ? &refused_url : nullptr, submit);
}

void StoreFetcher::Fetched(const StorePart& part, bool after_refusal, const std::string& url,
                           const FetchResult& result, std::string&& body, FetchDone done) {
  if (result.outcome == FetchOutcome::kUrlRefused && refresher_ && !after_refusal) {
    return FetchWithUrl(part, true, url, done);  // expired or revoked: once with a fresh URL
  }
  if (result.outcome == FetchOutcome::kNoRanges) {  // the server ignores Range: read it whole
    {
      MutexLock lock(&streams_mu_);
      ignores_range_.insert(part.file->node_);
    }
    return FetchFromStream(part, after_refusal, url, done);
  }
  done(result, std::move(body));
}

}  // namespace datumfs
