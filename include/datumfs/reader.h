// The reader: per-open-file state between the FUSE adapter and the fetcher.
//
// Read() never blocks on the network. A read served by bytes already in memory completes
// inline; a miss asks ReadaheadPolicy what to fetch, submits it, and completes from the
// fetch's completion on the fetch thread. Reads that fall inside a range already being
// fetched wait for that transfer instead of fetching again. Each open file keeps its last few
// fetched ranges in memory (the persistent cache is a later layer). Thread-safe.
#ifndef DATUMFS_READER_H_
#define DATUMFS_READER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "datumfs/fetch.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"

namespace datumfs {

struct ReaderOptions {
  // Every read returns data or an error within this time.
  std::chrono::milliseconds read_timeout{30000};
  // Fetched ranges kept in memory per open file.
  size_t ranges_per_file = 4;
  // Prefix for file names in log lines ("/valohai/inputs").
  std::string mountpoint;
};

// Called exactly once; `bytes` is valid only during the call. An OK status with fewer bytes
// than asked for means end of file.
using ReadDone = std::function<void(const Status& status, std::string_view bytes)>;

class OpenFile;

class Reader {
 public:
  Reader(const Tree& tree, Fetcher& fetcher, const ReaderOptions& options);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // REQUIRES: tree.kind(node) == NodeKind::kRemoteFile.
  std::shared_ptr<OpenFile> Open(NodeId node);

  void Read(const std::shared_ptr<OpenFile>& file, uint64_t offset, size_t size, ReadDone done);

 private:
  const Tree& tree_;
  Fetcher& fetcher_;
  const ReaderOptions options_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_H_
