// `datumfs cache ls|gc|verify`: look after a cache directory from a shell.
#ifndef DATUMFS_CLI_CMD_CACHE_H_
#define DATUMFS_CLI_CMD_CACHE_H_

#include <string>

namespace CLI {
class App;
}

namespace datumfs {

struct CacheArgs {
  std::string cache_dir = "/var/cache/datumfs";
  std::string cache_max;
  std::string min_free;
  bool all = false;
};

// Adds `cache` and its subcommands to `app`; `run` is set to the one to run.
void AddCacheCommands(CLI::App& app, CacheArgs& args, int (**run)(const CacheArgs&));

}  // namespace datumfs

#endif  // DATUMFS_CLI_CMD_CACHE_H_
