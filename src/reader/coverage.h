// Coverage: which bytes of a file its reads have asked for, to tell when a file has been read
// from its first to its last byte (the "fetched 28.9 kB in 0.2 s" log line). Pure; not
// thread-safe (used under the open file's lock).
#ifndef DATUMFS_READER_COVERAGE_H_
#define DATUMFS_READER_COVERAGE_H_

#include <cstddef>
#include <cstdint>
#include <map>

namespace datumfs {

class Coverage {
 public:
  explicit Coverage(uint64_t file_size) : size_(file_size) {}

  // Records a read of [offset, offset + length). True exactly once: for the read after which
  // every byte of the file has been asked for.
  bool Add(uint64_t offset, uint64_t length);
  // True once the reads were too scattered to follow (Add() never says true then).
  bool given_up() const { return given_up_; }

 private:
  // A reader that scatters more pieces than this is not reading the file through; it is not
  // followed further (memory stays small for random readers).
  static constexpr size_t kMaxPieces = 256;

  const uint64_t size_;
  std::map<uint64_t, uint64_t> pieces_;  // offset -> end; disjoint, not touching
  bool done_ = false;
  bool given_up_ = false;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_COVERAGE_H_
