// WalkDetector: which files a job will open next, when it walks the tree in listing order:
// one process (tar, cp -r, rsync, find -exec cat) or several workers taking turns over a
// sorted file list (a PyTorch DataLoader without shuffling). Files are known by their
// position in the walk order (every file of the tree, depth first, each directory's entries
// in listing order). Once a walk is tight and goes forward (at least min_opened files opened,
// all but one of them moving past the furthest before; of the positions it has passed at most
// `slack`, and at most a third as many as it opened, left unopened), the next files are
// predicted; the
// window of files predicted ahead grows while the job opens what was predicted, up to
// max_window, and halves when the walk leaves gaps or the job goes elsewhere. A shuffled reader gets nothing; a walk
// that stops leaves at most one window unread. Up to `streams` walks are followed at once
// (several jobs, or one job's workers in different directories).
//
// Pure: no clock, no I/O; the caller fetches what it returns, within its memory budget.
// Not thread-safe.
#ifndef DATUMFS_READER_WALK_DETECTOR_H_
#define DATUMFS_READER_WALK_DETECTOR_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace datumfs {

struct WalkOptions {
  uint32_t first_window = 4;  // files predicted once a walk is seen
  uint32_t min_opened = 3;    // files a walk has opened before anything is predicted
  uint32_t max_window = 64;   // files predicted ahead of the furthest one opened, at most
  // An open this many positions around a walk's furthest file (beyond its window) still
  // belongs to it: workers taking turns open files a little out of order.
  uint32_t slack = 32;
  uint32_t streams = 8;
};

// Positions [begin, end) of the walk order; empty if begin == end.
struct WalkRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool empty() const { return begin >= end; }
  uint32_t size() const { return empty() ? 0 : end - begin; }
  bool operator==(const WalkRange&) const = default;
};

class WalkDetector {
 public:
  // `files`: how many positions the walk order has.
  WalkDetector(WalkOptions options, uint32_t files);

  // The file at `position` was opened. Returns the positions to fetch now: each position is
  // returned at most once per walk.
  WalkRange Opened(uint32_t position);

  // The window of the walk `position` belongs to, 0 if none (for tests and stats).
  uint32_t WindowAt(uint32_t position) const;

 private:
  struct Stream {
    uint32_t first = 0;          // the nearest position opened
    uint32_t furthest = 0;       // the furthest position opened
    uint32_t predicted_end = 0;  // positions before this were returned (or opened)
    uint32_t window = 0;         // files predicted ahead of `furthest`
    uint32_t opened = 0;         // opens that belonged to it
    uint32_t forward = 0;        // opens that went past `furthest`
    uint64_t used = 0;           // when it was last matched (a count of opens)
    // A walk opens what it passes, but for the few files other workers are still opening;
    // a random reader leaves gaps that grow with its reach.
    bool Tight(uint32_t min_opened, uint32_t slack) const {
      const uint64_t span = uint64_t{furthest} - first + 1;
      const uint64_t gaps = span > opened ? span - opened : 0;
      return opened >= min_opened && forward + 1 >= min_opened &&
             gaps <= std::min<uint64_t>(slack, opened / 3);
    }
  };
  // The stream `position` belongs to, or null.
  Stream* Match(uint32_t position);
  const Stream* Match(uint32_t position) const;
  void Follow(Stream& s, uint32_t position);
  // Folds into walk `i` the others it has caught up with, so that no position is predicted
  // twice. Returns it (it moves).
  Stream& Merge(size_t i);
  Stream& Start(uint32_t position);

  const WalkOptions options_;
  const uint32_t files_;
  std::vector<Stream> streams_;
  uint64_t opens_ = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_WALK_DETECTOR_H_
