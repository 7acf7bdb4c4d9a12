// `datumfs prefetch [-j N] PATH...`: warms files, or every file under directories, of a
// running mount into its block cache by reading them, N at a time, with a progress display.
// Files the cache already holds wholly are skipped (user.datumfs.cached_bytes).
#ifndef DATUMFS_CLI_CMD_PREFETCH_H_
#define DATUMFS_CLI_CMD_PREFETCH_H_

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace datumfs {

struct PrefetchArgs {
  std::vector<std::string> paths;
  int jobs = 4;
  bool quiet = false;
  double interval_seconds = 5;  // between plain progress lines when stderr is not a terminal
};

CLI::App* AddPrefetchCommand(CLI::App& app, PrefetchArgs& args);
int RunPrefetch(const PrefetchArgs& args);

}  // namespace datumfs

#endif  // DATUMFS_CLI_CMD_PREFETCH_H_
