// ObjectStream: one download of a whole object, shared by every reader of the file in this
// process, for servers that ignore Range (they answer 200 with the whole body). Parts of the
// file subscribe before the stream reaches them; bytes are copied into the parts they fall in
// as they arrive, and handed on in chunks (to the cache). Thread-safe. Private to src/reader.
#ifndef DATUMFS_READER_OBJECT_STREAM_H_
#define DATUMFS_READER_OBJECT_STREAM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/byte_range.h"
#include "datumfs/fetch.h"
#include "datumfs/status.h"
#include "base/mutex.h"

namespace datumfs {

class ObjectStream {
 public:
  using Clock = std::chrono::steady_clock;
  // Receives [offset, offset + bytes.size()) of the object, in order, in pieces of `chunk`
  // bytes (the last one shorter), aligned to `chunk`. May be empty.
  using ChunkSink = std::function<void(uint64_t offset, std::string&& bytes)>;

  ObjectStream(uint64_t object_size, uint64_t chunk, ChunkSink chunks);

  // Fills `part` from the stream and calls `done` with its bytes, or with the stream's error,
  // or with EIO at `deadline`. The stream keeps the chunk it is filling, so a part that
  // starts in it is served too. False, and `done` is not kept, if the stream has ended or has
  // handed the part's first byte on in an earlier chunk.
  bool Subscribe(ByteRange part, Clock::time_point deadline, FetchDone done) EXCLUDES(mu_);

  // The next bytes of the object (as RangeRequest::sink): offset is where the last call ended.
  void OnData(uint64_t offset, std::string_view bytes) EXCLUDES(mu_);
  // The download has ended: parts still waiting get `result` (a failure if it is OK but they
  // are not complete, which does not happen with a server that sends what it says).
  void OnDone(const FetchResult& result) EXCLUDES(mu_);
  // Fails the parts whose deadline has passed.
  void ExpireWaits(Clock::time_point now) EXCLUDES(mu_);

 private:
  struct Part {
    ByteRange range;
    Clock::time_point deadline;
    FetchDone done;
    std::string bytes;
  };
  struct Chunk {
    uint64_t offset;
    std::string bytes;
  };
  // Moves the chunk being filled to `out`, to be handed on once mu_ is let go.
  void FlushChunk(std::vector<Chunk>& out) REQUIRES(mu_);
  void HandOn(std::vector<Chunk>&& chunks) EXCLUDES(mu_);

  const uint64_t size_;
  const uint64_t chunk_size_;
  const ChunkSink chunks_;
  Mutex mu_;  // a leaf: parts' callbacks and chunks_ run without it
  uint64_t position_ GUARDED_BY(mu_) = 0;  // bytes received
  bool ended_ GUARDED_BY(mu_) = false;
  std::vector<Part> parts_ GUARDED_BY(mu_);
  std::string chunk_ GUARDED_BY(mu_);
  uint64_t chunk_offset_ GUARDED_BY(mu_) = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_OBJECT_STREAM_H_
