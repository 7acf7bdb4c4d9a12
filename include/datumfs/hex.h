// Lower-case hex of bytes (digests, checksums). Pure; thread-safe.
#ifndef DATUMFS_HEX_H_
#define DATUMFS_HEX_H_

#include <string>
#include <string_view>

namespace datumfs {

std::string HexEncode(std::string_view bytes);

}  // namespace datumfs

#endif  // DATUMFS_HEX_H_
