// ReadaheadPolicy: what to fetch for a read, and what to fetch ahead of it. Pure; not
// thread-safe (one per open file, used under that file's lock).
//
// A read that nothing covers fetches its own pages, aligned to the page size and clipped to the
// file, so a random 4 KiB read costs the store about 4 KiB; a read at the start of a file of
// at most 1 MiB fetches the whole file. Reads that follow on from the
// previous ones (allowing a little reordering, as the kernel's own read-ahead and several
// threads produce) make the stream "sequential" once they add up to sequential_after bytes. A
// sequential stream keeps a read-ahead window in flight past the reader: it starts at
// initial_window and doubles, up to max_window and to a share of what the stream has read, each
// time the reader has used up half of it. The window is cut into parts of at most a quarter of it
// and of part_size that never cross a multiple of part_size, so that each part is one request on
// its own connection and the cache's extents line up. The caller passes the bytes it may still
// spend (a budget shared by every open file), and the window never asks for more. A read far from
// the stream resets it.
#ifndef DATUMFS_READER_READAHEAD_POLICY_H_
#define DATUMFS_READER_READAHEAD_POLICY_H_

#include <cstdint>
#include <vector>

#include "datumfs/byte_range.h"

namespace datumfs {

struct ReadaheadOptions {
  // Every fetch is aligned to this.
  uint64_t page_size = 4096;
  // Where a sequential stream's read-ahead starts: the read's end rounded up to this (the
  // kernel reads in units of 128 KiB, and a read that straddles two ranges costs a refetch).
  uint64_t align = 128 * 1024;
  // The first read-ahead window once a stream is seen to be sequential.
  uint64_t initial_window = 1024 * 1024;
  // The window never grows past this.
  uint64_t max_window = 64 * 1024 * 1024;
  // Nor past initial_window + 1/window_share of what the stream has read (0: no such bound),
  // so that a reader that stops after N bytes has had at most about
  // N + N / window_share + initial_window fetched.
  uint32_t window_share = 4;
  // The largest single request of the window.
  uint64_t part_size = 8 * 1024 * 1024;
  // A read at offset 0 of a file no bigger than this fetches the whole file.
  uint64_t whole_file_below = 1024 * 1024;
  // A read that starts within this many bytes of where the stream is expected still counts
  // as sequential.
  uint64_t reorder_slack = 512 * 1024;
  // A stream is sequential once it has read this much following on (so that point reads that
  // happen to land near each other, as a database's do, are not taken for a stream).
  uint64_t sequential_after = 256 * 1024;
};

class ReadaheadPolicy {
 public:
  explicit ReadaheadPolicy(const ReadaheadOptions& options) : options_(options) {}

  // Records a read, served or not, so that the policy tells sequential from random access.
  void Observe(uint64_t offset, uint64_t size);

  // The range to fetch for a read of [offset, offset + size) that nothing covers: its pages,
  // and for a sequential stream up to the next `align` boundary.
  // REQUIRES: size > 0 and offset < file_size.
  ByteRange Demand(uint64_t offset, uint64_t size, uint64_t file_size);

  // Read-ahead to start now that the reader is at `read_end`: parts in file order, in all at
  // most `budget` bytes. Empty for a random reader, or while enough is already in flight.
  // What it returns is taken as fetched: it is not returned again.
  std::vector<ByteRange> Ahead(uint64_t read_end, uint64_t file_size, uint64_t budget);

  bool sequential() const { return run_ > 0 && run_bytes_ >= options_.sequential_after; }
  uint64_t window() const { return window_; }

 private:
  uint64_t AlignUp(uint64_t n, uint64_t to) const { return (n + to - 1) / to * to; }
  void Reset();
  uint64_t NextWindow() const;  // the window for the next top-up

  ReadaheadOptions options_;
  uint64_t expected_ = 0;  // where the next sequential read would start
  bool seen_ = false;
  uint32_t run_ = 0;       // reads in a row that followed on
  uint64_t run_bytes_ = 0;  // bytes those reads (and the first) asked for
  uint64_t window_ = 0;
  uint64_t ahead_end_ = 0;  // the end of what has been fetched or asked for, for this stream
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READAHEAD_POLICY_H_
