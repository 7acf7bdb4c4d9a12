// The mount(8) helper form. `mount -t fuse.datumfs SOURCE DIR -o OPTIONS` (and an /etc/fstab
// line of type fuse.datumfs) runs fuse3's mount.fuse3, which runs
//   datumfs SOURCE DIR -o OPTIONS
// SOURCE is the inputs.json; OPTIONS mix datumfs's own (api=FILE, cache_dir=DIR,
// cache_max=SIZE, min_free=SIZE|N%, log_level=LEVEL, log_file=FILE, read_timeout=S,
// stall_timeout=S, refresh_margin=S, strict) with mount options for FUSE (allow_other, ...).
#ifndef DATUMFS_CLI_MOUNT_HELPER_H_
#define DATUMFS_CLI_MOUNT_HELPER_H_

#include <optional>
#include <string>
#include <vector>

#include "datumfs/status.h"

namespace datumfs {

// When argv is the helper form (first argument neither an option nor one of `subcommands`),
// the equivalent `datumfs mount ...` argument list (without argv[0]); nullopt otherwise.
// An option that needs a value and has none is an error naming it.
std::optional<Result<std::vector<std::string>>> MountHelperArgs(
    const std::vector<std::string>& args, const std::vector<std::string>& subcommands);

}  // namespace datumfs

#endif  // DATUMFS_CLI_MOUNT_HELPER_H_
