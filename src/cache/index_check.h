// Checking an LMDB cache index before it is used.
//
// LMDB trusts its pages: random bytes in them can make a read or a write follow a wild pointer
// (SIGSEGV) or touch the map past the file's end (SIGBUS). So the check walks every page a
// transaction can reach (the free list, the catalogue, every database and record) in a child
// process: a damaged index crashes the child, never the daemon, and the caller moves it aside.
// Call it before this process opens the environment itself.
#ifndef DATUMFS_CACHE_INDEX_CHECK_H_
#define DATUMFS_CACHE_INDEX_CHECK_H_

#include <chrono>
#include <string>

#include "datumfs/status.h"

namespace datumfs {

// OK if the environment in `dir` reads cleanly from end to end, or if there is none yet.
// Otherwise a Status saying what is wrong (a record, an LMDB error, or the signal the check
// died of). A check still running after `limit` counts as failed.
Status CheckIndex(const std::string& dir,
                  std::chrono::milliseconds limit = std::chrono::seconds(60));

// The walk itself, in this process (for the child; exposed for tests of sound indexes).
Status WalkIndex(const std::string& dir);

}  // namespace datumfs

#endif  // DATUMFS_CACHE_INDEX_CHECK_H_
