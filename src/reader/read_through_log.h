// ReadThroughLog: follows how far each file has been read through this mount, for its one
// "path: fetched 28.9 kB in 0.2 s" line. Per file, not per open: with the page cache kept
// across opens, a second open that reads a file through reaches the daemon only for what the
// first did not read. Thread-safe. Private to src/reader.
#ifndef DATUMFS_READER_READ_THROUGH_LOG_H_
#define DATUMFS_READER_READ_THROUGH_LOG_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "datumfs/tree.h"
#include "reader/coverage.h"

namespace datumfs {

class ReadThroughLog {
 public:
  using Clock = std::chrono::steady_clock;
  // At most `max_followed` files are followed at once: the oldest are forgotten, so that a job
  // that reads the start of a million files does not grow this.
  explicit ReadThroughLog(size_t node_count, size_t max_followed = 4096);

  // Records a read of [offset, offset + length) of a file of `size` bytes. True exactly once
  // per file: for the read after which every byte has been read.
  bool NoteRead(NodeId node, uint64_t size, uint64_t offset, uint64_t length) EXCLUDES(mu_);
  // Bytes of the file fetched from the store (the rest came from the cache), and how many of
  // them through a site cache.
  void NoteFetched(NodeId node, uint64_t bytes, uint64_t site_cache_bytes = 0) EXCLUDES(mu_);

  struct Through {
    uint64_t fetched_bytes;
    double seconds;  // since its first read
    uint64_t site_cache_bytes = 0;  // of fetched_bytes
  };
  // After NoteRead said true: what is known of the file, which is then forgotten (nothing if it
  // was forgotten already). Counts it in files_read().
  std::optional<Through> Finish(NodeId node) EXCLUDES(mu_);
  uint64_t files_read() const { return files_read_.load(); }

  // The log line.
  static std::string Line(const std::string& name, uint64_t size, const Through& through);

 private:
  struct Followed {
    explicit Followed(uint64_t size) : coverage(size) {}
    Coverage coverage;
    Clock::time_point first_read = Clock::now();
    uint64_t fetched_bytes = 0;
    uint64_t site_cache_bytes = 0;
  };
  void MakeRoom() REQUIRES(mu_);

  const size_t max_followed_;
  Mutex mu_;  // a leaf: nothing is called under it
  std::map<NodeId, std::unique_ptr<Followed>> followed_ GUARDED_BY(mu_);
  // Oldest entry of followed_ first (and ids since erased).
  std::deque<NodeId> order_ GUARDED_BY(mu_);
  std::vector<bool> done_ GUARDED_BY(mu_);  // by node: logged, or given up on
  std::atomic<uint64_t> files_read_{0};
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READ_THROUGH_LOG_H_
