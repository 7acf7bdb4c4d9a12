#include "reader/range_filler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "base/buffer.h"
#include "reader/cache_writer.h"
#include "reader/open_file.h"
#include "reader/store_fetcher.h"

namespace datumfs {

// A range being assembled: what the cache had, copied in at once, plus the parts fetched.
struct FillState {
  std::shared_ptr<OpenFile> file;
  std::shared_ptr<Range> range;
  std::chrono::steady_clock::time_point deadline;
  std::string buffer;            // range->range.length bytes; guarded by mu once parts are out
  std::vector<ByteRange> parts;  // to fetch
  bool claimed = false;          // parts are claimed in the cache
  Mutex mu;  // a leaf; the last part's completion takes the result out and lets go of it
  size_t pending GUARDED_BY(mu) = 0;
  FetchResult result GUARDED_BY(mu);  // the first failure
};

namespace {

// Missing ranges closer than this are fetched in one request (the bytes between are few).
constexpr uint64_t kCoalesceGap = 16 * 1024;

// The parts of `want` outside `gaps` (sorted, disjoint, inside `want`).
std::vector<ByteRange> Complement(ByteRange want, const std::vector<ByteRange>& gaps) {
  std::vector<ByteRange> out;
  uint64_t pos = want.offset;
  for (const ByteRange& g : gaps) {
    if (g.offset > pos) out.push_back(ByteRange{pos, g.offset - pos});
    pos = g.end();
  }
  if (pos < want.end()) out.push_back(ByteRange{pos, want.end() - pos});
  return out;
}

// Merges ranges separated by at most `gap` bytes. `ranges` is sorted and disjoint.
std::vector<ByteRange> Coalesce(const std::vector<ByteRange>& ranges, uint64_t gap) {
  std::vector<ByteRange> out;
  for (const ByteRange& r : ranges) {
    if (!out.empty() && r.offset - out.back().end() <= gap) {
      out.back().length = r.end() - out.back().offset;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace

RangeFiller::RangeFiller(BlockCache* cache, CacheWriter* writer, StoreFetcher& store,
                         std::chrono::milliseconds read_timeout, CompleteFn complete,
                         FetchedFn fetched)
    : cache_(cache),
      writer_(writer),
      store_(store),
      read_timeout_(read_timeout),
      complete_(std::move(complete)),
      fetched_(std::move(fetched)),
      waiter_([this] { WaitLoop(); }) {}

RangeFiller::~RangeFiller() { Stop(); }

bool RangeFiller::CopyCached(FillState& fill, const std::vector<ByteRange>& gaps) {
  ByteRange want = fill.range->range;
  fill.buffer = ZeroedBuffer(want.length);
  for (const ByteRange& part : Complement(want, gaps)) {
    std::optional<std::string> bytes = cache_->Read(fill.file->key_, part);
    if (!bytes) return false;  // evicted since we looked
    fill.buffer.replace(part.offset - want.offset, part.length, *bytes);
  }
  return true;
}

void RangeFiller::Fill(const std::shared_ptr<OpenFile>& file,
                       const std::shared_ptr<Range>& range, Clock::time_point deadline,
                       std::vector<ByteRange> missing) {
  FillFrom(file, range, deadline, 0, std::move(missing));
}

void RangeFiller::FillFrom(const std::shared_ptr<OpenFile>& file,
                           const std::shared_ptr<Range>& range, Clock::time_point deadline,
                           int attempt, std::vector<ByteRange> missing) {
  auto fill = std::make_shared<FillState>();
  fill->file = file;
  fill->range = range;
  fill->deadline = deadline;
  ByteRange want = range->range;
  if (!cache_) {
    fill->parts = {want};
    return FetchParts(fill);
  }
  if (missing.empty()) {
    if (std::optional<std::string> cached = cache_->Read(file->key_, want)) {
      return complete_(file, range, FetchResult{}, std::move(*cached));  // no network at all
    }
    missing = cache_->Missing(file->key_, want);
  }
  // The cache changes under us as other readers fill it: when it has moved on since the first
  // look, look again (a few times; each time round more of the range is cached).
  const bool retry = attempt < 3;
  if (missing.empty() && retry) return FillFrom(file, range, deadline, attempt + 1, {});
  std::vector<ByteRange> gaps = missing;
  if (gaps.empty() || (gaps != std::vector<ByteRange>{want} && !CopyCached(*fill, gaps))) {
    spdlog::debug("{}: cached parts of {}-{} went away; fetching it all", file->key_, want.offset,
                  want.end());
    gaps = {want};
  }
  fill->parts = Coalesce(gaps, kCoalesceGap);
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(read_timeout_).count() + 1;
  fill->claimed = cache_->Claim(file->key_, fill->parts, static_cast<uint64_t>(ttl));
  if (fill->claimed && retry && missing != cache_->Missing(file->key_, want)) {
    cache_->Release(file->key_, fill->parts);  // someone finished part of it meanwhile
    return FillFrom(file, range, deadline, attempt + 1, {});
  }
  // Someone is fetching these bytes: wait for them in the cache, for half the read's time at
  // most, then fetch them ourselves so that the read still ends in time.
  if (!fill->claimed) {
    MutexLock lock(&wait_mu_);
    if (stopping_) {  // unmounting: no new fetch (the wait thread may have been retrying it)
      lock.Unlock();
      return complete_(file, range, FetchResult::Of(FetchOutcome::kCancelled, "unmounting"), {});
    }
    if (Clock::now() < deadline - read_timeout_ / 2) {
      waits_.push_back(Wait{file, range, deadline});
      wait_cv_.Signal();  // under the lock: WaitLoop may sleep without a timeout
      return;
    }
  }
  FetchParts(fill);
}

void RangeFiller::FetchParts(const std::shared_ptr<FillState>& fill) {
  {
    MutexLock lock(&fill->mu);  // (no part is out yet)
    fill->pending = fill->parts.size();
  }
  // A part that is the whole range becomes the buffer as it is; others are copied into one.
  bool whole = fill->parts.size() == 1 && fill->parts[0] == fill->range->range;
  if (fill->buffer.empty() && !whole) fill->buffer = ZeroedBuffer(fill->range->range.length);
  for (const ByteRange& part : fill->parts) FetchPart(fill, part);
}

void RangeFiller::FetchPart(const std::shared_ptr<FillState>& fill, ByteRange part) {
  store_.Fetch(StorePart{fill->file, part, fill->deadline},
               [this, fill, part](const FetchResult& result, std::string&& body) {
                 if (result.ok() && fetched_) {
                   fetched_(fill->file->node_, part.length, result.site_cache_bytes);
                 }
                 PartDone(fill, part, result, std::move(body));
               });
}

void RangeFiller::PartDone(const std::shared_ptr<FillState>& fill, ByteRange part,
                           const FetchResult& part_result, std::string&& body) {
  FetchResult result;
  std::string bytes;
  {
    MutexLock lock(&fill->mu);
    if (part_result.ok() && part == fill->range->range) {
      fill->buffer = std::move(body);
    } else if (part_result.ok()) {
      fill->buffer.replace(part.offset - fill->range->range.offset, part.length, body);
    } else if (fill->result.ok()) {
      fill->result = part_result;
    }
    if (--fill->pending != 0) return;
    result = fill->result;
    bytes = std::move(fill->buffer);
  }
  // The last part: the replies, the log line and the claims' release run without the lock.
  FinishFill(fill, result, std::move(bytes));
}

void RangeFiller::FinishFill(const std::shared_ptr<FillState>& fill, const FetchResult& result,
                             std::string&& bytes) {
  const std::string& key = fill->file->key_;
  if (!result.ok()) {
    complete_(fill->file, fill->range, result, {});
    if (fill->claimed) cache_->Release(key, fill->parts);
    return;
  }
  complete_(fill->file, fill->range, FetchResult{}, std::move(bytes));
  if (!cache_) return;
  if (store_.IgnoresRange(fill->file->node_)) {  // the whole-object download caches them
    if (fill->claimed) cache_->Release(key, fill->parts);
    return;
  }
  // After the replies; the range's bytes are immutable now. The claims are released only once
  // the bytes are in the cache, so that nobody fetches them again meanwhile.
  writer_->Write(fill->file->node_, key, fill->range, fill->parts, fill->claimed);
}

// While there are any, every 10 ms: ranges that others were fetching are tried again (by then
// the bytes are usually in the cache, or the claim has gone and this reader takes it), and
// parts waiting on a whole-object download past their deadline fail.
void RangeFiller::WaitLoop() {
  MutexLock lock(&wait_mu_);
  while (!stopping_) {
    if (waits_.empty() && !store_.AnyStreams()) {
      wait_cv_.Wait(&wait_mu_);  // until Fill queues a wait, a stream starts, or Stop
    } else {
      // Another process's fetch ends by its claim's release, which sends no signal here.
      wait_cv_.WaitFor(&wait_mu_, std::chrono::milliseconds(10));
    }
    std::vector<Wait> waits;
    waits.swap(waits_);
    lock.Unlock();
    for (Wait& w : waits) Fill(w.file, w.range, w.deadline);
    store_.ExpireStreamWaits();
    lock.Lock();
  }
}

void RangeFiller::WakeWaiter() {
  { MutexLock lock(&wait_mu_); }  // WaitLoop is waiting on the condition, or will look again
  wait_cv_.Signal();
}

void RangeFiller::Stop() {
  std::vector<Wait> waits;
  {
    MutexLock lock(&wait_mu_);
    if (stopping_) return;
    stopping_ = true;
    waits.swap(waits_);
  }
  wait_cv_.SignalAll();
  if (waiter_.joinable()) waiter_.join();
  for (Wait& w : waits)
    complete_(w.file, w.range, FetchResult::Of(FetchOutcome::kCancelled, "unmounting"), {});
}

}  // namespace datumfs
