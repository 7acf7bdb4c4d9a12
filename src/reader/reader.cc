#include "datumfs/reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <vector>

#include "reader/readahead_policy.h"

namespace datumfs {

namespace {

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

}  // namespace

class OpenFile {
 public:
  OpenFile(NodeId node, const ReadaheadOptions& options) : node_(node), policy_(options) {}

  const NodeId node_;
  std::mutex mu_;
  ReadaheadPolicy policy_;                     // guarded by mu_
  std::deque<std::shared_ptr<Range>> ranges_;  // guarded by mu_; most recent last
};

Reader::Reader(const Tree& tree, Fetcher& fetcher, const ReaderOptions& options)
    : tree_(tree), fetcher_(fetcher), options_(options) {}

Reader::~Reader() = default;

std::shared_ptr<OpenFile> Reader::Open(NodeId node) {
  return std::make_shared<OpenFile>(node, ReadaheadOptions());
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
  RangeRequest request;
  request.url = std::string(tree_.remote(file->node_).url);
  request.offset = range->range.offset;
  request.length = range->range.length;
  request.object_size = file_size;
  request.deadline = std::chrono::steady_clock::now() + options_.read_timeout;
  std::string name = options_.mountpoint + "/" + tree_.Path(file->node_);
  fetcher_.Submit(std::move(request), [file, range, name](const Status& status, std::string&& body) {
    std::vector<Waiter> waiters;
    {
      std::lock_guard<std::mutex> lock(file->mu_);
      waiters.swap(range->waiters);
      if (status.ok()) {
        range->data = std::move(body);
        range->ready = true;
      } else {  // forget it, so that a later read tries again
        auto& rs = file->ranges_;
        rs.erase(std::remove(rs.begin(), rs.end(), range), rs.end());
      }
    }
    if (!status.ok()) {
      spdlog::error("{}: {}", name, status.message());
      for (const Waiter& w : waiters) w.done(Status::Errno(EIO, name, status.message()), {});
      return;
    }
    for (const Waiter& w : waiters) range->Reply(w);
  });
}

}  // namespace datumfs
