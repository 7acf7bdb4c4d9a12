// The FUSE adapter: serves a Tree through the libfuse3 low-level API, read-only.
//
// Metadata (lookup, getattr, readdir) is answered inline from the immutable tree; reads of
// remote files go to the Reader, which replies later from another thread; files that were
// under the mountpoint before the mount are served from the directory the mount covers.
// Every write-like operation is EROFS.
//
// Extended attributes tell a running mount's state without adding files to the tree: the
// root answers user.datumfs.stats (the counters as JSON), every remote file
// user.datumfs.datum_id, user.datumfs.cached_bytes and user.datumfs.uri (the original uri,
// never the signed URL).
//
// Mounting and serving are separate steps so that a daemon can mount, report errors to the
// shell, then fork and serve (libfuse's own order). Not thread-safe: one owner.
#ifndef DATUMFS_FUSE_ADAPTER_H_
#define DATUMFS_FUSE_ADAPTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "datumfs/reader.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"

namespace datumfs {

struct MountOptions {
  std::string mountpoint;
  // Extra mount options, as given to -o ("allow_other", "uid=...").
  std::vector<std::string> fuse_options;
  // Most FUSE worker threads. Handlers never wait on the network, so a few suffice.
  int max_threads = 16;
};

class FuseMount {
 public:
  // Mounts `tree` at options.mountpoint. `local_dir_fd` is the mountpoint directory opened
  // before mounting; it must stay open for the life of the mount (it serves kLocalFile nodes).
  static Result<std::unique_ptr<FuseMount>> Mount(const Tree& tree, int local_dir_fd,
                                                  const MountOptions& options);
  ~FuseMount();  // unmounts
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Serves requests until the file system is unmounted or SIGTERM/SIGINT/SIGHUP arrives.
  // `on_init` runs once the kernel has sent FUSE_INIT (the tree is visible); `stats_json`
  // answers the root's user.datumfs.stats (on a FUSE thread).
  // REQUIRES: `reader` outlives the call, and callbacks it still has pending must be
  // finished (its Fetcher destroyed) before this object is destroyed.
  Status Serve(Reader& reader, std::function<void()> on_init,
               std::function<std::string()> stats_json);

  // Unmounts now (idempotent). For a parent process whose serving child failed.
  void Unmount();

  struct State;

 private:
  explicit FuseMount(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace datumfs

#endif  // DATUMFS_FUSE_ADAPTER_H_
