// Servers that ignore Range: one download of the whole object per file, shared by every
// reader of it in this process, streamed into the cache as it arrives.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "reader/cache_writer.h"
#include "reader/object_stream.h"
#include "reader/open_file.h"
#include "reader/store_fetcher.h"

namespace datumfs {

bool StoreFetcher::IgnoresRange(NodeId node) {
  MutexLock lock(&streams_mu_);
  return ignores_range_.count(node) != 0;
}

void StoreFetcher::FetchFromStream(const StorePart& part, bool after_refusal,
                                   const std::string& url, FetchDone done) {
  FetchDone fetched = [this, part, after_refusal, url, done](const FetchResult& result,
                                                             std::string&& body) {
    Fetched(part, after_refusal, url, result, std::move(body), done);
  };
  if (JoinStream(part, url, fetched, !cache_)) return;
  if (!cache_) return FetchAlone(part, url, fetched);
  // The download has ended or gone past this part, handing it to the cache: read it from
  // there once the writer has caught up. Only if it is not there, download again.
  writer_->AfterWrites([this, part, url, fetched] {
    if (std::optional<std::string> bytes = cache_->Read(part.file->key_, part.range)) {
      return fetched(FetchResult{}, std::move(*bytes));
    }
    if (!JoinStream(part, url, fetched, true)) FetchAlone(part, url, fetched);
  });
}

// Subscribes the part to the file's running download, or to a new one if `may_start`. False
// if there is none, or it has gone past the part.
bool StoreFetcher::JoinStream(const StorePart& part, const std::string& url,
                              const FetchDone& done, bool may_start) {
  const NodeId node = part.file->node_;
  std::shared_ptr<ObjectStream> stream;
  bool start = false;
  {
    MutexLock lock(&streams_mu_);
    auto it = streams_.find(node);
    if (it != streams_.end()) {
      stream = it->second;
    } else if (may_start) {
      stream = streams_[node] = MakeStream(part.file);
      start = true;
    } else {
      return false;
    }
  }
  if (!stream->Subscribe(part.range, part.deadline, done)) return false;  // never a new one
  if (start) {
    StartStream(node, url, stream);
    if (stream_started_) stream_started_();  // to end its waiting parts at their deadline
  }
  return true;
}

bool StoreFetcher::AnyStreams() {
  MutexLock lock(&streams_mu_);
  return !streams_.empty();
}

// Reads the object from its start up to the end of the part, on a connection of its own: for a
// part the shared download has gone past and that is not in the cache.
void StoreFetcher::FetchAlone(const StorePart& part, const std::string& url,
                              const FetchDone& done) {
  RangeRequest request = RequestFor(part, url);
  request.whole_body_ok = true;
  fetcher_.Submit(std::move(request), done);
}

std::shared_ptr<ObjectStream> StoreFetcher::MakeStream(const std::shared_ptr<OpenFile>& file) {
  ObjectStream::ChunkSink to_cache;
  if (cache_) {
    to_cache = [this, file](uint64_t offset, std::string&& bytes) {
      auto range = std::make_shared<Range>(ByteRange{offset, bytes.size()}, budget_);
      range->data = std::move(bytes);
      range->ready = true;
      writer_->Write(file->node_, file->key_, range, {range->range}, false);
    };
  }
  return std::make_shared<ObjectStream>(tree_.size(file->node_), options_.part_size,
                                        std::move(to_cache));
}

void StoreFetcher::StartStream(NodeId node, const std::string& url,
                               const std::shared_ptr<ObjectStream>& stream) {
  const uint64_t size = tree_.size(node);
  spdlog::info("{}/{}: the server ignores Range; downloading the whole file once",
               options_.mountpoint, tree_.Path(node));
  RangeRequest request;
  request.url = url;
  request.offset = 0;
  request.length = size;
  request.object_size = size;
  // Readers wait with deadlines of their own; the download goes on to fill the cache as
  // long as it averages 1 MiB/s (stalls are retried, resuming).
  request.deadline = Clock::now() + options_.read_timeout + std::chrono::seconds(size >> 20);
  request.whole_body_ok = true;
  request.sink = [stream](uint64_t offset, std::string_view bytes) {
    stream->OnData(offset, bytes);
  };
  fetcher_.Submit(std::move(request), [this, node, stream](const FetchResult& result,
                                                          std::string&&) {
    {
      MutexLock lock(&streams_mu_);
      auto it = streams_.find(node);
      if (it != streams_.end() && it->second == stream) streams_.erase(it);
    }
    if (!result.ok()) {
      spdlog::warn("{}/{}: {}", options_.mountpoint, tree_.Path(node), result.status.message());
    }
    stream->OnDone(result);
  });
}

void StoreFetcher::ExpireStreamWaits() {
  std::vector<std::shared_ptr<ObjectStream>> streams;
  {
    MutexLock lock(&streams_mu_);
    for (auto& [node, stream] : streams_) streams.push_back(stream);
  }
  for (auto& s : streams) s->ExpireWaits(Clock::now());
}

}  // namespace datumfs
