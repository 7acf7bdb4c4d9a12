#include "datumfs/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace datumfs::crc32c {

uint32_t Extend(uint32_t crc, std::string_view data) {
  // ISA-L works on the register without the final inversion; CRC32C inverts both ends.
  uint32_t reg = ~crc;
  while (!data.empty()) {
    size_t n = data.size() < static_cast<size_t>(INT_MAX) ? data.size() : INT_MAX;
    reg = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(data.data())),
                      static_cast<int>(n), reg);
    data.remove_prefix(n);
  }
  return ~reg;
}

uint32_t Value(std::string_view data) { return Extend(0, data); }

}  // namespace datumfs::crc32c
