#include "datumfs/reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

#include "reader/readahead_policy.h"

namespace datumfs {

struct Waiter {
  uint64_t offset;
  size_t size;
  ReadDone done;
};

// One fetched (or being fetched) range of a file. Immutable once `ready`.
struct Range {
  ByteRange range;
  bool ready = false;
  std::string data;
  std::vector<Waiter> waiters;

  bool Covers(uint64_t offset, size_t size) const {
    return range.offset <= offset && offset + size <= range.end();
  }
  void Reply(const Waiter& w) const {
    w.done(Status(), std::string_view(data).substr(w.offset - range.offset, w.size));
  }
};

class OpenFile {
 public:
  OpenFile(NodeId node, std::string key, const ReadaheadOptions& options)
      : node_(node), key_(std::move(key)), policy_(options) {}

  const NodeId node_;
  const std::string key_;  // in the block cache
  std::mutex mu_;
  ReadaheadPolicy policy_;                     // guarded by mu_
  std::deque<std::shared_ptr<Range>> ranges_;  // guarded by mu_; most recent last
};

Reader::Reader(const Tree& tree, Fetcher& fetcher, BlockCache* cache,
               const ReaderOptions& options)
    : tree_(tree), fetcher_(fetcher), cache_(cache), options_(options) {}

Reader::~Reader() = default;

std::shared_ptr<OpenFile> Reader::Open(NodeId node) {
  std::string key;
  if (cache_) {
    RemoteFileInfo info = tree_.remote(node);
    key = BlockCache::KeyFor(info.datum_id, info.url, tree_.size(node));
  }
  return std::make_shared<OpenFile>(node, std::move(key), ReadaheadOptions());
}

void Reader::Read(const std::shared_ptr<OpenFile>& file, uint64_t offset, size_t size,
                  ReadDone done) {
  const uint64_t file_size = tree_.size(file->node_);
  if (offset >= file_size || size == 0) {
    done(Status(), std::string_view());
    return;
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, file_size - offset));
  std::shared_ptr<Range> range;
  bool hit = false;
  {
    std::lock_guard<std::mutex> lock(file->mu_);
    file->policy_.Observe(offset, size);
    for (const auto& r : file->ranges_) {
      if (r->Covers(offset, size)) range = r;
    }
    if (range && !range->ready) {
      range->waiters.push_back(Waiter{offset, size, std::move(done)});
      return;
    }
    hit = range != nullptr;
    if (!range) {
      range = std::make_shared<Range>();
      range->range = file->policy_.Plan(offset, size, file_size);
      range->waiters.push_back(Waiter{offset, size, std::move(done)});
      file->ranges_.push_back(range);
      while (file->ranges_.size() > options_.ranges_per_file && file->ranges_.front()->ready) {
        file->ranges_.pop_front();
      }
    }
  }
  if (hit) {  // ready ranges are immutable: reply without the lock
    range->Reply(Waiter{offset, size, std::move(done)});
    return;
  }
  Fill(file, range);
}

void Reader::Fill(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range) {
  ByteRange want = range->range;
  if (!cache_) return Fetch(file, range, want);
  if (std::optional<std::string> cached = cache_->Read(file->key_, want)) {
    return Complete(file, range, Status(), std::move(*cached));  // no network at all
  }
  // Fetch only what is missing: from the first gap to the end of the last.
  std::vector<ByteRange> gaps = cache_->Missing(file->key_, want);
  if (gaps.empty()) return Fetch(file, range, want);  // evicted between the two looks
  Fetch(file, range, ByteRange{gaps.front().offset, gaps.back().end() - gaps.front().offset});
}

void Reader::Fetch(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                   ByteRange span) {
  RangeRequest request;
  request.url = std::string(tree_.remote(file->node_).url);
  request.offset = span.offset;
  request.length = span.length;
  request.object_size = tree_.size(file->node_);
  request.deadline = std::chrono::steady_clock::now() + options_.read_timeout;
  fetcher_.Submit(std::move(request), [this, file, range, span](const Status& status,
                                                                std::string&& body) {
    if (!status.ok()) return Complete(file, range, status, {});
    if (span == range->range) {
      Complete(file, range, status, std::move(body));
      if (cache_) cache_->Insert(file->key_, span.offset, range->data);  // after the replies
      return;
    }
    // Only the gaps came from the network: the rest of the range is in the cache.
    cache_->Insert(file->key_, span.offset, body);
    if (std::optional<std::string> whole = cache_->Read(file->key_, range->range)) {
      return Complete(file, range, status, std::move(*whole));
    }
    Fetch(file, range, range->range);  // the cached part went meanwhile: fetch it all
  });
}

// Publishes the range's bytes (or forgets it on error) and replies to everyone waiting on it.
void Reader::Complete(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                      const Status& status, std::string&& data) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(file->mu_);
    waiters.swap(range->waiters);
    if (status.ok()) {
      range->data = std::move(data);
      range->ready = true;
    } else {  // forget it, so that a later read tries again
      auto& rs = file->ranges_;
      rs.erase(std::remove(rs.begin(), rs.end(), range), rs.end());
    }
  }
  if (!status.ok()) {
    std::string name = options_.mountpoint + "/" + tree_.Path(file->node_);
    spdlog::error("{}: {}", name, status.message());
    for (const Waiter& w : waiters) w.done(Status::Errno(EIO, name, status.message()), {});
    return;
  }
  for (const Waiter& w : waiters) range->Reply(w);
}

}  // namespace datumfs
