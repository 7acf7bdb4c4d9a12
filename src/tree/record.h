// Length-prefixed strings and fixed-width integers in the tree's record arena.
#ifndef DATUMFS_TREE_RECORD_H_
#define DATUMFS_TREE_RECORD_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace datumfs::record {

template <class T>
inline void PutFixed(std::string* arena, T value) {
  arena->append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <class T>
inline T GetFixed(std::string_view arena, uint64_t* offset) {
  T value;
  std::memcpy(&value, arena.data() + *offset, sizeof value);
  *offset += sizeof value;
  return value;
}

inline void PutString(std::string* arena, std::string_view s) {
  PutFixed<uint32_t>(arena, static_cast<uint32_t>(s.size()));
  arena->append(s);
}

inline std::string_view GetString(std::string_view arena, uint64_t* offset) {
  uint32_t length = GetFixed<uint32_t>(arena, offset);
  std::string_view s = arena.substr(*offset, length);
  *offset += length;
  return s;
}

}  // namespace datumfs::record

#endif  // DATUMFS_TREE_RECORD_H_
