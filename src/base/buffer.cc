#include "base/buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace datumfs {

namespace {
constexpr size_t kPrefaultFrom = 256 * 1024;  // smaller buffers come from malloc's own reuse
constexpr size_t kPrefaultUpTo = 64 << 20;    // more is not committed before it is written
}  // namespace

void ReservePrefaulted(std::string& buffer, size_t capacity) {
  buffer.reserve(capacity);
#ifdef MADV_POPULATE_WRITE
  if (capacity < kPrefaultFrom || capacity > kPrefaultUpTo) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t begin = (start + page - 1) / page * page;
  const uintptr_t end = (start + capacity) / page * page;
  // Best effort: a kernel before 5.14 says EINVAL, and the pages fault in one by one.
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#endif
}

std::string ZeroedBuffer(size_t size) {
  std::string buffer;
  ReservePrefaulted(buffer, size);
  buffer.resize(size);
  return buffer;
}

}  // namespace datumfs
