// Checks on the mountpoint before mounting: a live datumfs mount there is refused (mounts
// would stack silently), and a dead FUSE mount (its daemon killed: every access is ENOTCONN)
// is detached, so that a container restarted after a crash just mounts again.
#ifndef DATUMFS_CLI_MOUNTPOINT_H_
#define DATUMFS_CLI_MOUNTPOINT_H_

#include <string>
#include <string_view>

#include "datumfs/status.h"

namespace datumfs {

// The file system type of the topmost mount at `path` in a /proc/self/mountinfo text, or ""
// if nothing is mounted there. `path` must be absolute and canonical.
std::string MountTypeAt(std::string_view mountinfo, std::string_view path);

// OK if `path` may be mounted on now (after detaching a dead FUSE mount there, if any).
Status PrepareMountpoint(const std::string& path);

}  // namespace datumfs

#endif  // DATUMFS_CLI_MOUNTPOINT_H_
