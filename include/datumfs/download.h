// The background download of whole inputs (`datumfs mount --download`): every file of the
// chosen inputs is read into the block cache, in inputs.json order, while the job runs, so
// that the job finds more and more of the dataset local ("start processing while it is still
// downloading"). It reads as a bulk reader does (`datumfs prefetch`): its transfers start only
// when the job's own leave room, and its read-ahead uses at most half the memory budget, so the
// job's reads always go first. Files the cache already holds are skipped: a download stopped
// by an unmount resumes at the next mount where it stopped. One log line per input when it
// completes. Thread-safe.
#ifndef DATUMFS_DOWNLOAD_H_
#define DATUMFS_DOWNLOAD_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/reader.h"
#include "datumfs/status.h"
#include "datumfs/tree.h"

namespace datumfs {

struct DownloadOptions {
  unsigned files_at_once = 16;  // files read in parallel (the fetcher caps bulk transfers)
  size_t read_size = 1 << 20;             // bytes asked for by each read
  int attempts = 3;                       // reads of a range before its file is given up
  std::chrono::milliseconds pause{1000};  // between two attempts
  std::string mountpoint;                 // prefix for file names in log lines
};

struct DownloadProgress {
  uint64_t bytes_total = 0;  // of every file of the chosen inputs
  uint64_t bytes_done = 0;   // found in the cache, or read into it
  uint64_t files_total = 0;
  uint64_t files_done = 0;
  uint64_t files_failed = 0;  // given up (their reads kept failing): left to the job
  uint64_t eta_seconds = 0;   // at the rate of this mount's download; 0 if done or unknown
};

// The inputs `spec` names: "all", or input names separated by commas. An unknown name is an
// error naming it and the inputs there are.
Result<std::vector<uint32_t>> ChooseInputs(const Tree& tree, std::string_view spec);

class BackgroundDownload {
 public:
  // `tree` and `reader` outlive it.
  BackgroundDownload(const Tree& tree, Reader& reader, std::vector<uint32_t> inputs,
                     DownloadOptions options);
  ~BackgroundDownload();  // Stop()s
  BackgroundDownload(const BackgroundDownload&) = delete;
  BackgroundDownload& operator=(const BackgroundDownload&) = delete;

  // Starts the reading threads. Once.
  void Start();
  // Stops reading (reads in flight are abandoned) and joins the threads. Idempotent.
  void Stop();
  DownloadProgress progress() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace datumfs

#endif  // DATUMFS_DOWNLOAD_H_
