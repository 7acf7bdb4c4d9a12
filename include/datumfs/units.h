// Sizes on the command line: "8M", "10GiB", "512k", "1.5G", "10%". Pure; thread-safe.
#ifndef DATUMFS_UNITS_H_
#define DATUMFS_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "datumfs/status.h"

namespace datumfs {

// Bytes in a size like "100", "4k", "8M", "10G", "1T" (also "KiB", "MB", ...: powers of 1024
// either way, as du and df print them). EINVAL with a message naming the text otherwise.
Result<uint64_t> ParseSize(std::string_view text);

// A size or a percentage ("10%"), as --min-free takes.
struct SizeOrPercent {
  uint64_t bytes = 0;
  double percent = -1;  // >= 0 when given as a percentage
  // The bytes this means on a filesystem of `total` bytes.
  uint64_t Of(uint64_t total) const {
    return percent >= 0 ? static_cast<uint64_t>(static_cast<double>(total) * percent / 100) : bytes;
  }
};
Result<SizeOrPercent> ParseSizeOrPercent(std::string_view text);

// "28.9 kB"-style, as Valohai's logs print sizes (powers of 1000).
std::string HumanBytes(uint64_t bytes);

}  // namespace datumfs

#endif  // DATUMFS_UNITS_H_
