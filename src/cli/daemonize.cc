#include "cli/daemonize.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace datumfs {
namespace {

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void RedirectStdio() {
  int null = open("/dev/null", O_RDWR);
  if (null < 0) return;
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
}

}  // namespace

int DetachAndWait(const std::function<void()>& on_failure) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    setsid();
    if (chdir("/") != 0) { /* "/" always exists; nothing to do */ }
    RedirectStdio();
    return p[1];
  }
  close(p[1]);
  std::string word;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    word.append(buf, static_cast<size_t>(n));
  }
  if (!word.empty() && word[0] == 'R') _exit(0);
  on_failure();
  std::string reason = word.size() > 1 ? word.substr(1)
                                       : "the daemon exited before the file system was ready";
  std::fprintf(stderr, "datumfs: %s\n", reason.c_str());
  _exit(1);
}

void NotifyReady(int fd) {
  WriteAll(fd, "R");
  close(fd);
}

void NotifyFailed(int fd, const std::string& reason) {
  WriteAll(fd, "F" + reason);
  close(fd);
}

}  // namespace datumfs
