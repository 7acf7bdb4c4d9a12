// Progress of a long job (`datumfs prefetch`) on stderr: a bar redrawn in place on a
// terminal, plain lines every few seconds otherwise (logs, CI). Thread-safe: workers call
// Add(); one thread calls Tick() and Finish().
#ifndef DATUMFS_CLI_PROGRESS_H_
#define DATUMFS_CLI_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace datumfs {

class Progress {
 public:
  // `total_bytes` and `total_files` are the work to do; `tty`: draw a bar. A null `out`
  // shows nothing.
  Progress(FILE* out, bool tty, uint64_t total_bytes, uint64_t total_files,
           std::chrono::milliseconds line_interval);

  void AddBytes(uint64_t n) { bytes_.fetch_add(n, std::memory_order_relaxed); }
  void FileDone() { files_.fetch_add(1, std::memory_order_relaxed); }

  // Redraws the bar (tty), or prints a line if line_interval has passed since the last one.
  void Tick();
  // The final state, on its own line.
  void Finish();

  // "[#####.....]  50%  1.2 GB / 2.4 GB  85.3 MB/s  ETA 0:14  3/12 files", `width` columns.
  static std::string Bar(uint64_t done, uint64_t total, uint64_t files_done, uint64_t files,
                         double seconds, int width);
  // "1.2 GB / 2.4 GB (50%), 85.3 MB/s, 3/12 files, ETA 0:14"
  static std::string Line(uint64_t done, uint64_t total, uint64_t files_done, uint64_t files,
                          double seconds);

 private:
  double Elapsed() const;

  FILE* const out_;
  const bool tty_;
  const uint64_t total_bytes_, total_files_;
  const std::chrono::milliseconds line_interval_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_line_ = start_;
  std::atomic<uint64_t> bytes_{0}, files_{0};
};

}  // namespace datumfs

#endif  // DATUMFS_CLI_PROGRESS_H_
