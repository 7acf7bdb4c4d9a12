// Exit statuses of the datumfs command (documented in README.md and the man page).
#ifndef DATUMFS_CLI_EXIT_CODES_H_
#define DATUMFS_CLI_EXIT_CODES_H_

namespace datumfs {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;   // could not mount or serve (mountpoint, FUSE, daemon)
constexpr int kExitUsage = 2;     // bad command line
constexpr int kExitBadInput = 3;  // inputs.json / api.json unreadable or invalid

}  // namespace datumfs

#endif  // DATUMFS_CLI_EXIT_CODES_H_
