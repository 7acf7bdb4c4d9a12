// ReadaheadPolicy: how much to fetch when a read misses. Pure; not thread-safe (one per open
// file, used under that file's lock).
//
// A read always fetches at least the pages it touches, aligned to the page size and clipped
// to the file, so a random 4 KiB read costs the store about 4 KiB. Reads that follow on from
// the previous ones (allowing a little reordering, as the kernel's own read-ahead and several
// threads produce) make the stream "sequential": each miss then fetches a window that starts
// at initial_window and doubles up to max_window. A read far from the stream resets it.
#ifndef DATUMFS_READER_READAHEAD_POLICY_H_
#define DATUMFS_READER_READAHEAD_POLICY_H_

#include <cstdint>

#include "datumfs/byte_range.h"

namespace datumfs {

struct ReadaheadOptions {
  // Fetches are aligned to this.
  uint64_t page_size = 4096;
  // The first read-ahead window once a stream is seen to be sequential.
  uint64_t initial_window = 256 * 1024;
  // The window never grows past this.
  uint64_t max_window = 4 * 1024 * 1024;
  // A read that starts within this many bytes of where the stream is expected still counts
  // as sequential.
  uint64_t reorder_slack = 512 * 1024;
};

class ReadaheadPolicy {
 public:
  explicit ReadaheadPolicy(const ReadaheadOptions& options) : options_(options) {}

  // Records a read, served or not, so that the policy tells sequential from random access.
  void Observe(uint64_t offset, uint64_t size);

  // The range to fetch for a read of [offset, offset + size) that is not available.
  // REQUIRES: size > 0 and offset < file_size. Grows the window when sequential.
  ByteRange Plan(uint64_t offset, uint64_t size, uint64_t file_size);

  bool sequential() const { return run_ > 0; }
  uint64_t window() const { return window_; }

 private:
  ReadaheadOptions options_;
  uint64_t expected_ = 0;  // where the next sequential read would start
  bool seen_ = false;
  uint32_t run_ = 0;       // reads in a row that followed on
  uint64_t window_ = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_READAHEAD_POLICY_H_
