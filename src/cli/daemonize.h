// Detaching a mount daemon from the shell that started it, the way `mount` users expect:
// the command returns only once the file system is visible, with status 0, or fails with one
// line on stderr and leaves no mount behind. (libfuse 3.14 has no fuse_daemonize_success(),
// so this is the fork + pipe it describes.)
#ifndef DATUMFS_CLI_DAEMONIZE_H_
#define DATUMFS_CLI_DAEMONIZE_H_

#include <functional>
#include <string>

namespace datumfs {

// Forks. Only the child returns: with the write end of the notify pipe, detached from the
// terminal (new session, cwd "/", stdio on /dev/null). The parent waits for the child's word:
// on NotifyReady it exits 0; otherwise (NotifyFailed, or the child dies) it prints the reason
// as "datumfs: <reason>" on stderr, runs `on_failure` (to unmount) and exits 1.
// Returns -1 (in the only process there is) if fork fails.
int DetachAndWait(const std::function<void()>& on_failure);

// The file system is visible; the parent may exit 0. Closes fd.
void NotifyReady(int fd);

// The child gives up before being ready; the parent prints `reason`. Closes fd.
void NotifyFailed(int fd, const std::string& reason);

}  // namespace datumfs

#endif  // DATUMFS_CLI_DAEMONIZE_H_
