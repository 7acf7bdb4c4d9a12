// CRC32C (Castagnoli), the checksum of every cached extent. Uses ISA-L's crc32_iscsi, which
// picks the fastest instruction set at run time. Pure; thread-safe.
#ifndef DATUMFS_CRC32C_H_
#define DATUMFS_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace datumfs::crc32c {

// The CRC32C of `data` ("123456789" -> 0xe3069283).
uint32_t Value(std::string_view data);

// Continues a CRC32C: Extend(Value(a), b) == Value(a + b).
uint32_t Extend(uint32_t crc, std::string_view data);

}  // namespace datumfs::crc32c

#endif  // DATUMFS_CRC32C_H_
