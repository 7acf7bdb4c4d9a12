// Lists the files that were under the mountpoint before the mount (inputs downloaded up
// front), so that the mount can keep serving them from the directory it covers.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "datumfs/quote.h"
#include "datumfs/tree.h"

namespace datumfs {
namespace {

Status ScanDir(int dirfd, const std::string& prefix, std::vector<LocalEntry>* out,
               std::vector<std::string>* warnings) {
  int fd = openat(dirfd, prefix.empty() ? "." : prefix.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(prefix.empty() ? "mountpoint" : prefix, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(fd), &closedir);
  if (!dir) {
    close(fd);
    return ErrnoStatus(prefix, errno);
  }
  std::vector<std::string> subdirs;
  while (dirent* d = readdir(dir.get())) {
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    struct stat st;
    if (fstatat(dirfd, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      warnings->push_back(Quote(path) + " (already under the mountpoint): " +
                          ErrnoStatus("stat", errno).message() + "; skipped");
      continue;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      warnings->push_back(Quote(path) +
                          " (already under the mountpoint): not a regular file or directory; "
                          "skipped");
      continue;
    }
    LocalEntry e;
    e.path = path;
    e.is_dir = S_ISDIR(st.st_mode);
    e.size = e.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
    e.mode = st.st_mode & 07777;
    e.mtime_sec = st.st_mtim.tv_sec;
    e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    out->push_back(std::move(e));
    if (S_ISDIR(st.st_mode)) subdirs.push_back(path);
  }
  for (const std::string& sub : subdirs) {
    if (Status s = ScanDir(dirfd, sub, out, warnings); !s.ok()) return s;
  }
  return Status();
}

}  // namespace

Result<std::vector<LocalEntry>> ScanLocalDir(int dirfd, std::vector<std::string>* warnings) {
  std::vector<LocalEntry> entries;
  if (Status s = ScanDir(dirfd, "", &entries, warnings); !s.ok()) return s;
  return entries;
}

}  // namespace datumfs
