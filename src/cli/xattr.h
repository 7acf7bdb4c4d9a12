// Reading a running mount's extended attributes (user.datumfs.*), as `datumfs stats` and
// `datumfs prefetch` do.
#ifndef DATUMFS_CLI_XATTR_H_
#define DATUMFS_CLI_XATTR_H_

#include <string>

#include "datumfs/status.h"

namespace datumfs {

// The value of attribute `name` of `path`. ENODATA / ENOTSUP when `path` is not in a
// datumfs mount (or is not the kind of node that has it).
Result<std::string> GetXattr(const std::string& path, const char* name);

}  // namespace datumfs

#endif  // DATUMFS_CLI_XATTR_H_
