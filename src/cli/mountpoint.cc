#include "cli/mountpoint.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace datumfs {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        if (s[i + j] < '0' || s[i + j] > '7') octal = false;
        v = v * 8 + (s[i + j] - '0');
      }
      if (octal) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string ReadMountinfo() {
  std::ifstream f("/proc/self/mountinfo");
  std::stringstream text;
  text << f.rdbuf();
  return text.str();
}

// Detaches the mount at `path`: umount2 as root, else the setuid fusermount3.
bool Detach(const std::string& path) {
  if (umount2(path.c_str(), MNT_DETACH) == 0) return true;
  pid_t pid = fork();
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", "--", path.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

}  // namespace

std::string MountTypeAt(std::string_view mountinfo, std::string_view path) {
  std::string type;
  std::istringstream lines{std::string(mountinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, field;
    fields >> id >> parent >> dev >> root >> mount_point;
    while (fields >> field && field != "-") {
    }
    std::string fstype;
    fields >> fstype;
    if (Unescape(mount_point) == path) type = fstype;  // later lines are mounted on top
  }
  return type;
}

Status PrepareMountpoint(const std::string& path) {
  // statfs always reaches the daemon (stat may be answered from the kernel's attribute cache).
  // A dead FUSE mount says ENOTCONN, or ECONNABORTED if its connection was aborted.
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0 && (errno == ENOTCONN || errno == ECONNABORTED)) {
    if (!Detach(path)) {
      return Status::Errno(ENOTCONN, path,
                           "a FUSE mount whose daemon is gone is there, and it could not be "
                           "unmounted (try: fusermount3 -u -z " + path + ")");
    }
    spdlog::warn("{}: a FUSE mount whose daemon is gone was there; unmounted it", path);
  }
  char canonical[PATH_MAX];
  if (!realpath(path.c_str(), canonical)) return ErrnoStatus(path, errno);
  if (MountTypeAt(ReadMountinfo(), canonical) == "fuse.datumfs") {
    return Status::Errno(EBUSY, path,
                         "already a datumfs mount (unmount it first: fusermount3 -u " + path +
                             ")");
  }
  return Status();
}

}  // namespace datumfs
