#include "cli/cmd_prefetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "cli/exit_codes.h"
#include "cli/seconds.h"
#include "cli/progress.h"
#include "cli/xattr.h"
#include "datumfs/units.h"

namespace datumfs {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

// How many bytes of `path` the mount's cache holds (user.datumfs.cached_bytes).
Result<uint64_t> CachedBytes(const std::string& path) {
  Result<std::string> value = GetXattr(path, "user.datumfs.cached_bytes");
  if (!value) return value.error();
  return std::strtoull(value.value().c_str(), nullptr, 10);
}

struct File {
  std::string path;
  uint64_t size = 0;
};

// What to fetch, and what was found along the way.
struct Plan {
  std::vector<File> files;
  uint64_t bytes = 0;
  uint64_t already_cached = 0;  // files skipped
  uint64_t not_remote = 0;      // files with no cached_bytes (on disk before the mount)
  std::vector<std::string> failures;
};

void Consider(const std::string& path, uint64_t size, bool named, Plan& plan) {
  Result<uint64_t> cached = CachedBytes(path);
  if (!cached) {
    int e = cached.error().errno_value();
    if (e != ENODATA && e != ENOTSUP) return plan.failures.push_back(cached.error().message());
    if (named) return plan.failures.push_back(path + ": not a remote file of a datumfs mount");
    ++plan.not_remote;
    return;
  }
  if (cached.value() >= size) {
    ++plan.already_cached;
    return;
  }
  plan.files.push_back(File{path, size});
  plan.bytes += size;
}

void Walk(const std::string& dir, Plan& plan) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<std::string, uint64_t>> found;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      found.emplace_back(it->path().string(), it->file_size(ec));
    }
  }
  if (ec) plan.failures.push_back(dir + ": " + ec.message());
  std::sort(found.begin(), found.end());
  for (auto& [path, size] : found) Consider(path, size, false, plan);
}

Plan MakePlan(const std::vector<std::string>& paths) {
  Plan plan;
  for (const std::string& path : paths) {
    struct stat st;
    struct statfs sfs;
    if (stat(path.c_str(), &st) != 0 || statfs(path.c_str(), &sfs) != 0) {
      plan.failures.push_back(ErrnoStatus(path, errno).message());
    } else if (sfs.f_type != kFuseSuperMagic) {
      plan.failures.push_back(path + ": not in a datumfs mount");
    } else if (S_ISDIR(st.st_mode)) {
      Walk(path, plan);
    } else if (S_ISREG(st.st_mode)) {
      Consider(path, static_cast<uint64_t>(st.st_size), true, plan);
    } else {
      plan.failures.push_back(path + ": not a file or directory");
    }
  }
  return plan;
}

// Reads the whole file, counting bytes into `progress`. O_NOATIME marks a bulk reader, as
// backup tools (tar, rsync) use it.
Status ReadThrough(const File& file, Progress& progress) {
  int fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(file.path, errno);
  std::string buf(1 << 20, '\0');
  uint64_t offset = 0;
  Status status;
  while (true) {
    ssize_t n = pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(file.path, errno);
      break;
    }
    if (n == 0) break;
    offset += static_cast<uint64_t>(n);
    progress.AddBytes(static_cast<uint64_t>(n));
  }
  // The point is the block cache: leave the page cache to the job.
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  if (status.ok() && offset != file.size) {
    status = Status::Errno(EIO, file.path, "ended after " + std::to_string(offset) + " of " +
                                               std::to_string(file.size) + " bytes");
  }
  return status;
}

// Runs `jobs` readers over plan.files; returns each file's outcome, in plan.files's order.
std::vector<Status> FetchAll(const Plan& plan, int jobs, Progress* progress) {
  std::atomic<size_t> next{0};
  std::vector<Status> outcomes(plan.files.size());  // each written by one worker only
  std::vector<std::thread> workers;
  std::atomic<int> running{jobs};
  for (int i = 0; i < jobs; ++i) {
    workers.emplace_back([&] {
      for (size_t k; (k = next++) < plan.files.size();) {
        outcomes[k] = ReadThrough(plan.files[k], *progress);
        progress->FileDone();
      }
      --running;
    });
  }
  while (running > 0) {
    progress->Tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (std::thread& t : workers) t.join();
  return outcomes;
}

// Files read without error that the cache does not hold wholly (limits, a full disk). The
// cache writer lags the reads a little: look for a few seconds.
std::vector<std::string> NotCached(const std::vector<File>& files) {
  std::vector<std::string> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (const File& f : files) {
    uint64_t cached = 0;
    while (true) {
      Result<uint64_t> v = CachedBytes(f.path);
      cached = v ? v.value() : 0;
      if (cached >= f.size || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (cached < f.size) {
      out.push_back(f.path + ": " + HumanBytes(cached) + " of " + HumanBytes(f.size) + " cached");
    }
  }
  return out;
}

}  // namespace

CLI::App* AddPrefetchCommand(CLI::App& app, PrefetchArgs& a) {
  CLI::App* cmd = app.add_subcommand(
      "prefetch", "Warm files or whole directories of a mount into the cache; exit 1 if any failed");
  cmd->add_option("paths", a.paths, "files or directories inside a datumfs mount")->required();
  cmd->add_option("-j,--jobs", a.jobs, "files to fetch at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("-q,--quiet", a.quiet, "no progress display, only failures");
  cmd->add_option("--interval", a.interval_seconds,
                  "seconds between progress lines when stderr is not a terminal")
      ->capture_default_str()
      ->check(Seconds());
  return cmd;
}

int RunPrefetch(const PrefetchArgs& a) {
  Plan plan = MakePlan(a.paths);
  const bool tty = isatty(STDERR_FILENO) && !a.quiet;
  auto interval = std::chrono::milliseconds(static_cast<int64_t>(a.interval_seconds * 1000));
  Progress progress(a.quiet ? nullptr : stderr, tty, plan.bytes, plan.files.size(), interval);
  const auto start = std::chrono::steady_clock::now();
  const int jobs = std::min<int>(a.jobs, static_cast<int>(plan.files.size()));
  const std::vector<Status> outcomes = FetchAll(plan, jobs, &progress);
  progress.Finish();
  std::vector<std::string> failures = plan.failures;
  std::vector<File> fetched;
  uint64_t fetched_bytes = 0;
  for (size_t i = 0; i < plan.files.size(); ++i) {
    if (!outcomes[i].ok()) {
      failures.push_back(outcomes[i].message());
      continue;
    }
    fetched.push_back(plan.files[i]);
    fetched_bytes += plan.files[i].size;
  }
  for (const std::string& w : NotCached(fetched)) {
    std::fprintf(stderr, "datumfs: warning: read, but not all kept in the cache: %s\n", w.c_str());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "prefetch: %zu files (%s) in %.1f s; %llu already cached; %zu failed\n",
               fetched.size(), HumanBytes(fetched_bytes).c_str(), seconds,
               static_cast<unsigned long long>(plan.already_cached), failures.size());
  for (const std::string& f : failures) std::fprintf(stderr, "datumfs: failed: %s\n", f.c_str());
  return failures.empty() ? kExitOk : kExitFailure;
}

}  // namespace datumfs
