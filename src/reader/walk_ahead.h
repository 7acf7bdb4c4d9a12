// WalkAhead: fetches whole, before the job opens them, the files a WalkDetector predicts a
// job walking the tree will open next, and hands each one to the open that comes for it, so
// its reads are answered from memory. What was fetched for nobody is dropped after
// 2 * max_window newer ones (its bytes are in the cache by then, if there is one).
// Thread-safe.
#ifndef DATUMFS_READER_WALK_AHEAD_H_
#define DATUMFS_READER_WALK_AHEAD_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "datumfs/tree.h"
#include "reader/walk_detector.h"

namespace datumfs {

class OpenFile;

class WalkAhead {
 public:
  // Starts fetching all of `node` and returns its open file, or null if it did not start (the
  // memory budget is spent, the file is empty or too big to be worth it).
  using FetchWholeFn = std::function<std::shared_ptr<OpenFile>(NodeId node)>;

  WalkAhead(const Tree& tree, WalkOptions options, FetchWholeFn fetch_whole);
  WalkAhead(const WalkAhead&) = delete;
  WalkAhead& operator=(const WalkAhead&) = delete;

  // The file fetched ahead for `node`, once; null if there is none, or its fetch failed.
  std::shared_ptr<OpenFile> Take(NodeId node) EXCLUDES(mu_);
  // The job opened `node`: starts fetching the files predicted now.
  void Opened(NodeId node) EXCLUDES(mu_);
  // Files fetched ahead that were then opened (for stats and tests).
  uint64_t taken() const { return taken_.load(); }

 private:
  const std::vector<NodeId> order_;      // the tree's remote files, depth first, listed order
  const std::vector<uint32_t> position_;  // by node id: its place in order_, or UINT32_MAX
  const uint32_t keep_;
  const FetchWholeFn fetch_whole_;
  Mutex mu_;  // a leaf; fetch_whole_ runs without it
  WalkDetector detector_ GUARDED_BY(mu_);
  std::deque<std::pair<NodeId, std::shared_ptr<OpenFile>>> fetched_ GUARDED_BY(mu_);
  std::atomic<uint64_t> taken_{0};
};

}  // namespace datumfs

#endif  // DATUMFS_READER_WALK_AHEAD_H_
