// Buffers for bytes that are about to be written whole (a range read from the cache file or
// received from the store).
//
// A big buffer is fresh memory from the kernel each time (glibc maps and unmaps it), and each
// of its 4 KiB pages costs a page fault at its first write, microseconds each in a virtual
// machine. These fault a buffer's pages in with one system call instead (MADV_POPULATE_WRITE,
// Linux 5.14; best effort before). Warm sequential reads spent a third of their time faulting
// in 8 MiB range buffers one page at a time.
#ifndef DATUMFS_BASE_BUFFER_H_
#define DATUMFS_BASE_BUFFER_H_

#include <cstddef>
#include <string>

namespace datumfs {

// buffer.reserve(capacity), with the new memory faulted in.
void ReservePrefaulted(std::string& buffer, size_t capacity);

// A string of `size` zero bytes, faulted in.
std::string ZeroedBuffer(size_t size);

}  // namespace datumfs

#endif  // DATUMFS_BASE_BUFFER_H_
