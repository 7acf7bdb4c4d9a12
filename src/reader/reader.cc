#include "datumfs/reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

#include "reader/internal.h"

namespace datumfs {

Reader::Reader(const Tree& tree, Fetcher& fetcher, BlockCache* cache, UrlRefresher* refresher,
               const ReaderOptions& options)
    : tree_(tree), fetcher_(fetcher), cache_(cache), refresher_(refresher), options_(options) {
  if (cache_) waiter_ = std::thread([this] { WaitLoop(); });
}

Reader::~Reader() { Stop(); }

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
    std::unique_lock<std::mutex> lock(file->mu_);
    if (file->failed_.offset < offset + size && offset < file->failed_.end() &&
        std::chrono::steady_clock::now() - file->failed_at_ < std::chrono::seconds(1)) {
      Status failed = file->failed_status_;
      lock.unlock();
      return done(failed, {});
    }
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
  Fill(file, range, std::chrono::steady_clock::now() + options_.read_timeout);
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
    Status failed = Status::Errno(EIO, name, status.message());
    {
      std::lock_guard<std::mutex> lock(file->mu_);
      file->failed_ = range->range;
      file->failed_status_ = failed;
      file->failed_at_ = std::chrono::steady_clock::now();
    }
    for (const Waiter& w : waiters) w.done(failed, {});
    return;
  }
  for (const Waiter& w : waiters) range->Reply(w);
}

}  // namespace datumfs
