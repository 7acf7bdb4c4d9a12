// A range of bytes of one object: [offset, offset + length).
#ifndef DATUMFS_BYTE_RANGE_H_
#define DATUMFS_BYTE_RANGE_H_

#include <cstdint>

namespace datumfs {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool empty() const { return length == 0; }
  bool operator==(const ByteRange&) const = default;
};

}  // namespace datumfs

#endif  // DATUMFS_BYTE_RANGE_H_
