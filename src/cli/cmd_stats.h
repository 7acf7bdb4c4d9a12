// `datumfs stats MOUNTPOINT [--json|--prometheus] [--watch]`: a running mount's counters, read
// from its root's user.datumfs.stats extended attribute.
#ifndef DATUMFS_CLI_CMD_STATS_H_
#define DATUMFS_CLI_CMD_STATS_H_

#include <string>

namespace CLI {
class App;
}

namespace datumfs {

struct StatsArgs {
  std::string mountpoint;
  bool json = false;
  bool prometheus = false;
  bool watch = false;
  double interval_seconds = 1.0;
};

CLI::App* AddStatsCommand(CLI::App& app, StatsArgs& args);
int RunStats(const StatsArgs& args);

}  // namespace datumfs

#endif  // DATUMFS_CLI_CMD_STATS_H_
