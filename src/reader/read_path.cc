#include "reader/read_path.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "datumfs/units.h"
#include "reader/cache_writer.h"
#include "reader/open_file.h"
#include "reader/range_filler.h"
#include "reader/serial_queue.h"
#include "reader/store_fetcher.h"
#include "reader/walk_ahead.h"

namespace datumfs {

ReadPath::ReadPath(const Tree& tree, Fetcher& fetcher, BlockCache* cache, UrlRefresher* refresher,
               const ReaderOptions& options)
    : tree_(tree),
      cache_(cache),
      options_(options),
      budget_(std::make_shared<ByteBudget>(options.readahead_budget)),
      through_(tree.node_count()) {
  if (cache_) writer_ = std::make_unique<CacheWriter>(tree_, *cache_, options_.mountpoint);
  StoreFetcherOptions store_options;
  store_options.part_size = options_.part_size;
  store_options.read_timeout = options_.read_timeout;
  store_options.mountpoint = options_.mountpoint;
  // A whole-object download that starts has the filler's wait thread expire its parts.
  store_ = std::make_unique<StoreFetcher>(tree_, fetcher, refresher, cache_, writer_.get(), budget_,
                                          store_options, [this] { filler_->WakeWaiter(); });
  filler_ = std::make_unique<RangeFiller>(
      cache_, writer_.get(), *store_, options_.read_timeout,
      [this](const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
             const FetchResult& result,
             std::string&& bytes) { Complete(file, range, result, std::move(bytes)); },
      [this](NodeId node, uint64_t bytes, uint64_t site_cache_bytes) {
        through_.NoteFetched(node, bytes, site_cache_bytes);
      });
  if (cache_) loader_ = std::make_unique<SerialQueue>();
  if (options_.walk_ahead_files > 0) {
    WalkOptions walk;
    walk.max_window = options_.walk_ahead_files;
    walk.first_window = std::min(walk.first_window, walk.max_window);
    walk_ = std::make_unique<WalkAhead>(tree_, walk,
                                        [this](NodeId node) { return FetchWhole(node); });
  }
}

void ReadPath::Stop() {
  filler_->Stop();
  if (loader_) loader_->Stop();
  if (writer_) writer_->Stop();  // what was fetched goes into the cache before it closes
}

ReadPath::~ReadPath() { Stop(); }

std::string ReadPath::KeyOf(NodeId node) const {
  if (!cache_) return "";
  RemoteFileInfo info = tree_.remote(node);
  return BlockCache::KeyFor(info.datum_id, info.url, tree_.size(node));
}

std::shared_ptr<OpenFile> ReadPath::NewOpenFile(NodeId node, bool bulk) const {
  ReadaheadOptions readahead;
  uint64_t max_window = bulk ? options_.bulk_max_readahead : options_.max_readahead;
  readahead.max_window = std::max(max_window, readahead.initial_window);
  readahead.part_size = options_.part_size;
  if (bulk) readahead.window_share = 0;  // a bulk reader reads the whole file
  return std::make_shared<OpenFile>(node, KeyOf(node), readahead, bulk);
}

std::shared_ptr<OpenFile> ReadPath::Open(NodeId node, bool bulk) {
  if (bulk || !walk_) return NewOpenFile(node, bulk);
  std::shared_ptr<OpenFile> file = walk_->Take(node);
  if (!file) file = NewOpenFile(node, bulk);
  walk_->Opened(node);
  return file;
}

std::shared_ptr<OpenFile> ReadPath::FetchWhole(NodeId node) {
  const uint64_t size = tree_.size(node);
  // Speculative: like a bulk reader, it may use only the upper half of the budget, so that
  // the job's own reads and their read-ahead always find room.
  if (size == 0 || size > options_.part_size || budget_->AvailableToBulk() < size) return nullptr;
  std::shared_ptr<OpenFile> file = NewOpenFile(node, false);
  auto range = std::make_shared<Range>(ByteRange{0, size}, budget_);
  {
    MutexLock lock(&file->mu_);
    file->ranges_.push_back(range);
  }
  StartFill(file, range, Clock::now() + options_.read_timeout);
  return file;
}

void ReadPath::StartFill(const std::shared_ptr<OpenFile>& file,
                         const std::shared_ptr<Range>& range, Clock::time_point deadline) {
  // What the cache holds is loaded into memory off the FUSE thread, so that the reader's next
  // reads find it there instead of each going to the cache file.
  std::vector<ByteRange> missing;
  if (cache_) missing = cache_->Missing(file->key_, range->range);
  if (cache_ && missing.empty()) {
    loader_->Post([this, file, range, deadline] { filler_->Fill(file, range, deadline); });
  } else {
    filler_->Fill(file, range, deadline, std::move(missing));
  }
}

ReaderCounters ReadPath::counters() const {
  ReaderCounters c;
  c.reads = reads_.load();
  c.read_errors = read_errors_.load();
  c.bytes_read = bytes_read_.load();
  c.files_read = through_.files_read();
  c.walk_ahead_files = walk_ ? walk_->taken() : 0;
  c.reads_from_cache_file = from_file_.load();
  return c;
}

uint64_t ReadPath::CachedBytes(NodeId node) const {
  const uint64_t size = tree_.size(node);
  if (!cache_ || size == 0) return 0;
  uint64_t missing = 0;
  for (const ByteRange& r : cache_->Missing(KeyOf(node), ByteRange{0, size})) missing += r.length;
  return size - missing;
}

void ReadPath::LogReadThrough(NodeId node) {
  std::optional<ReadThroughLog::Through> through = through_.Finish(node);
  if (!through) return;
  std::string name = options_.mountpoint + "/" + tree_.Path(node);
  spdlog::info("{}", ReadThroughLog::Line(name, tree_.size(node), *through));
}

ReadDone ReadPath::LoggingReadThrough(NodeId node, ReadDone done) {
  // Logged before the reply, so that the line is there when the program sees the bytes.
  return [this, node, inner = std::move(done)](const Status& status, std::string_view bytes) {
    if (status.ok()) LogReadThrough(node);
    inner(status, bytes);
  };
}

bool ReadPath::ReadFromCacheFile(const std::shared_ptr<OpenFile>& file, uint64_t offset,
                                 size_t size, bool read_through, const ReadFromFile& from_file) {
  {
    MutexLock lock(&file->mu_);
    for (const auto& r : file->ranges_) {
      if (r->Covers(offset, size)) return false;  // in memory, or on its way there
    }
  }
  std::unique_ptr<PinnedBytes> pinned = cache_->Pin(file->key_, ByteRange{offset, size});
  if (!pinned) return false;
  {
    // Seen by the policy, so that a stream that runs on past what is cached is known as one.
    MutexLock lock(&file->mu_);
    file->policy_.Observe(offset, size);
  }
  ++from_file_;
  bytes_read_ += size;
  if (read_through) LogReadThrough(file->node_);
  from_file(CacheFileBytes{pinned->fd(), offset, size});
  return true;
}

void ReadPath::Read(std::shared_ptr<OpenFile> file, uint64_t offset, size_t size, ReadDone done,
                    ReadFromFile from_file) {
  ++reads_;
  const uint64_t file_size = tree_.size(file->node_);
  if (offset >= file_size || size == 0) {
    done(Status(), std::string_view());
    return;
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, file_size - offset));
  // The file's last unread bytes?
  const bool read_through = through_.NoteRead(file->node_, file_size, offset, size);
  if (cache_ && from_file && ReadFromCacheFile(file, offset, size, read_through, from_file)) {
    return;
  }
  if (read_through) done = LoggingReadThrough(file->node_, std::move(done));
  std::shared_ptr<Range> range;  // the one that serves this read
  bool hit = false;
  bool fill = false;
  std::vector<std::shared_ptr<Range>> ahead;
  {
    MutexLock lock(&file->mu_);
    if (std::optional<Status> failed = file->RecentFailure(ByteRange{offset, size})) {
      lock.Unlock();
      ++read_errors_;
      return done(*failed, {});
    }
    file->policy_.Observe(offset, size);
    for (const auto& r : file->ranges_) {
      if (r->Covers(offset, size)) range = r;
    }
    if (range && !range->ready) {
      range->waiters.push_back(Waiter{offset, size, std::move(done)});
    } else if (range) {
      hit = true;
    } else {
      range = std::make_shared<Range>(file->policy_.Demand(offset, size, file_size), budget_);
      range->waiters.push_back(Waiter{offset, size, std::move(done)});
      file->ranges_.push_back(range);
      fill = true;
    }
    ahead = file->StartAhead(offset + size, file_size, budget_);
    file->Prune(offset, options_.ranges_per_file);
  }
  if (hit) {  // ready ranges are immutable: reply without the lock
    bytes_read_ += size;
    range->Reply(Waiter{offset, size, std::move(done)});
  }
  const Clock::time_point deadline = Clock::now() + options_.read_timeout;
  if (fill) filler_->Fill(file, range, deadline);
  for (const auto& r : ahead) StartFill(file, r, deadline);
}

// Publishes the range's bytes (or forgets it on error) and replies to everyone waiting on it.
void ReadPath::Complete(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                        const FetchResult& result, std::string&& data) {
  if (!result.ok()) return Fail(file, range, result);
  std::vector<Waiter> waiters;
  {
    MutexLock lock(&file->mu_);
    waiters = file->Publish(range, std::move(data));
  }
  for (const Waiter& w : waiters) {
    bytes_read_ += w.size;
    range->Reply(w);
  }
}

void ReadPath::Fail(const std::shared_ptr<OpenFile>& file, const std::shared_ptr<Range>& range,
                    const FetchResult& result) {
  std::string name = options_.mountpoint + "/" + tree_.Path(file->node_);
  // A TLS or proxy problem was logged once for its host, with what to do: not per read. A
  // fetch cancelled by the unmount is no error.
  if (result.outcome == FetchOutcome::kReported || result.outcome == FetchOutcome::kCancelled) {
    spdlog::debug("{}: {}", name, result.status.message());
  } else {
    spdlog::error("{}: {}", name, result.status.message());
  }
  Status failed = Status::Errno(EIO, name, result.status.message());
  std::vector<Waiter> waiters;
  {
    MutexLock lock(&file->mu_);
    waiters = file->Forget(range, failed);
  }
  read_errors_ += waiters.size();
  for (const Waiter& w : waiters) w.done(failed, {});
}

}  // namespace datumfs
