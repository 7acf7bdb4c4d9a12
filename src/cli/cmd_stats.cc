#include "cli/cmd_stats.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/exit_codes.h"
#include "cli/seconds.h"
#include "cli/xattr.h"
#include "datumfs/stats.h"

namespace datumfs {
namespace {

Result<StatsSnapshot> ReadStats(const std::string& mountpoint) {
  Result<std::string> json = GetXattr(mountpoint, "user.datumfs.stats");
  if (!json) {
    int e = json.error().errno_value();
    if (e == ENODATA || e == ENOTSUP) {
      return Status::Errno(e, mountpoint, "not the root of a datumfs mount");
    }
    return json.error();
  }
  Result<StatsSnapshot> stats = StatsFromJson(json.value());
  if (!stats) return Status::Errno(EIO, mountpoint, stats.error().message());
  return stats;
}

std::string Render(const StatsArgs& a, const StatsSnapshot& now, const StatsSnapshot* before) {
  if (a.json) return StatsToJson(now) + "\n";
  if (a.prometheus) return StatsToPrometheus(now);
  return StatsToTable(now, before, a.interval_seconds);
}

}  // namespace

CLI::App* AddStatsCommand(CLI::App& app, StatsArgs& a) {
  CLI::App* cmd = app.add_subcommand("stats", "Show a running mount's counters");
  cmd->add_option("mountpoint", a.mountpoint, "the mount's root")->required();
  auto* json = cmd->add_flag("--json", a.json, "one JSON object, as user.datumfs.stats holds it");
  auto* prom = cmd->add_flag("--prometheus", a.prometheus,
                             "Prometheus text exposition format (datumfs_* metrics)");
  json->excludes(prom);
  cmd->add_flag("-w,--watch", a.watch, "show them again every --interval seconds until stopped");
  cmd->add_option("--interval", a.interval_seconds, "seconds between two --watch updates")
      ->capture_default_str()
      ->check(Seconds());
  return cmd;
}

int RunStats(const StatsArgs& a) {
  std::optional<StatsSnapshot> before;
  const bool clear = a.watch && isatty(STDOUT_FILENO);
  for (;;) {
    Result<StatsSnapshot> now = ReadStats(a.mountpoint);
    if (!now) {
      std::fprintf(stderr, "datumfs: %s\n", now.error().message().c_str());
      return kExitFailure;
    }
    std::string text = Render(a, now.value(), before ? &*before : nullptr);
    if (clear) text = "\033[H\033[2J" + text;  // redraw in place
    else if (before) text = "\n" + text;
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (!a.watch) return kExitOk;
    before = std::move(now).value();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.interval_seconds));
  }
}

}  // namespace datumfs
