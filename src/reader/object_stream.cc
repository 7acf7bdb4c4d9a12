#include "reader/object_stream.h"

#include <algorithm>
#include <cerrno>

namespace datumfs {
ObjectStream::ObjectStream(uint64_t object_size, uint64_t chunk, ChunkSink chunks)
    : size_(object_size), chunk_size_(chunk), chunks_(std::move(chunks)) {}

bool ObjectStream::Subscribe(ByteRange part, Clock::time_point deadline, FetchDone done) {
  Part p{part, deadline, std::move(done), {}};
  {
    MutexLock lock(&mu_);
    if (ended_ || part.offset < chunk_offset_) return false;
    p.bytes.reserve(part.length);
    if (part.offset < position_) {  // the stream has passed its start: the chunk still has it
      uint64_t to = std::min(position_, part.end());
      p.bytes.append(chunk_, part.offset - chunk_offset_, to - part.offset);
    }
    if (p.bytes.size() < part.length) {
      parts_.push_back(std::move(p));
      return true;
    }
  }
  p.done(FetchResult{}, std::move(p.bytes));
  return true;
}

void ObjectStream::FlushChunk(std::vector<Chunk>& out) {
  if (chunk_.empty()) return;
  out.push_back(Chunk{chunk_offset_, std::move(chunk_)});
  chunk_offset_ += out.back().bytes.size();
  chunk_.clear();
}

void ObjectStream::HandOn(std::vector<Chunk>&& chunks) {
  if (!chunks_) return;
  for (Chunk& c : chunks) chunks_(c.offset, std::move(c.bytes));
}

void ObjectStream::OnData(uint64_t offset, std::string_view bytes) {
  std::vector<Part> complete;
  std::vector<Chunk> full;
  {
    MutexLock lock(&mu_);
    const uint64_t end = offset + bytes.size();
    for (auto it = parts_.begin(); it != parts_.end();) {
      uint64_t from = std::max(offset, it->range.offset + it->bytes.size());
      uint64_t to = std::min(end, it->range.end());
      if (from < to) it->bytes.append(bytes.substr(from - offset, to - from));
      if (it->bytes.size() == it->range.length) {
        complete.push_back(std::move(*it));
        it = parts_.erase(it);
      } else {
        ++it;
      }
    }
    position_ = end;
    while (!bytes.empty()) {
      size_t room = static_cast<size_t>(chunk_size_ - chunk_.size());
      chunk_.append(bytes.substr(0, room));
      bytes.remove_prefix(std::min(room, bytes.size()));
      if (chunk_.size() == chunk_size_ || chunk_offset_ + chunk_.size() == size_) {
        FlushChunk(full);
      }
    }
  }
  HandOn(std::move(full));  // in order: OnData and OnDone come from one thread, in turn
  for (Part& p : complete) p.done(FetchResult{}, std::move(p.bytes));
}

void ObjectStream::OnDone(const FetchResult& result) {
  std::vector<Part> left;
  std::vector<Chunk> last;
  {
    MutexLock lock(&mu_);
    ended_ = true;
    FlushChunk(last);  // what arrived is right, even if the rest did not come
    left.swap(parts_);
  }
  HandOn(std::move(last));
  const FetchResult failed =
      result.ok() ? FetchResult::Of(FetchOutcome::kFailed, "the download ended before the range")
                  : result;
  for (Part& p : left) p.done(failed, {});
}

void ObjectStream::ExpireWaits(Clock::time_point now) {
  std::vector<Part> expired;
  {
    MutexLock lock(&mu_);
    for (auto it = parts_.begin(); it != parts_.end();) {
      if (it->deadline <= now) {
        expired.push_back(std::move(*it));
        it = parts_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Part& p : expired) {
    p.done(FetchResult::Of(FetchOutcome::kFailed,
                           "the whole-object download did not reach the range in time"),
           {});
  }
}

}  // namespace datumfs
