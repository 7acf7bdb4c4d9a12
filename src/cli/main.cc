// datumfs: the command line. Each subcommand lives in its own cmd_<name>.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cmd_cache.h"
#include "cli/cmd_mount.h"
#include "cli/cmd_prefetch.h"
#include "cli/cmd_stats.h"
#include "cli/exit_codes.h"
#include "cli/logging.h"
#include "cli/mount_helper.h"

int main(int argc, char** argv) {
  CLI::App app{
      "datumfs: Valohai on-demand inputs as a read-only file system that fetches bytes "
      "only when they are read."};
  app.set_version_flag("--version", "datumfs " DATUMFS_VERSION);
  app.require_subcommand(1);
  datumfs::MountArgs mount_args;
  CLI::App* mount = datumfs::AddMountCommand(app, mount_args);
  datumfs::StatsArgs stats_args;
  CLI::App* stats = datumfs::AddStatsCommand(app, stats_args);
  datumfs::PrefetchArgs prefetch_args;
  CLI::App* prefetch = datumfs::AddPrefetchCommand(app, prefetch_args);
  datumfs::CacheArgs cache_args;
  int (*run_cache)(const datumfs::CacheArgs&) = nullptr;
  datumfs::AddCacheCommands(app, cache_args, &run_cache);
  // `datumfs SOURCE DIR -o OPTIONS`, as mount.fuse3 runs it, means `datumfs mount ...`.
  std::vector<std::string> helper;
  auto translated = datumfs::MountHelperArgs(std::vector<std::string>(argv + 1, argv + argc),
                                             {"mount", "stats", "prefetch", "cache"});
  if (translated && !*translated) {
    std::fprintf(stderr, "datumfs: %s\n", translated->error().message().c_str());
    return datumfs::kExitUsage;
  }
  std::vector<char*> helper_argv;
  if (translated) {
    helper = std::move(*translated).value();
    helper_argv.push_back(argv[0]);
    for (std::string& a : helper) helper_argv.push_back(a.data());
    argc = static_cast<int>(helper_argv.size());
    argv = helper_argv.data();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? datumfs::kExitOk : datumfs::kExitUsage;
  }
  if (mount->parsed()) return datumfs::RunMount(mount_args);
  if (stats->parsed()) return datumfs::RunStats(stats_args);
  if (prefetch->parsed()) return datumfs::RunPrefetch(prefetch_args);
  if (run_cache) {
    datumfs::LogToStderr("warn");  // "index moved aside" and the like reach the shell
    return run_cache(cache_args);
  }
  return datumfs::kExitUsage;
}
