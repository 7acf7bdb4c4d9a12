#include "cli/cmd_cache.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>

#include "cli/cache_options.h"
#include "cli/exit_codes.h"
#include "datumfs/cache.h"
#include "datumfs/units.h"

namespace datumfs {
namespace {

Result<std::unique_ptr<BlockCache>> OpenFromArgs(const CacheArgs& a) {
  Result<CacheOptions> o = ParseCacheOptions(a.cache_dir, a.cache_max, a.min_free);
  if (!o) return o.error();
  return BlockCache::Open(o.value());
}

int Fail(const Status& s) {
  std::fprintf(stderr, "datumfs: %s\n", s.message().c_str());
  return s.errno_value() == EINVAL ? kExitUsage : kExitFailure;
}

std::string Date(uint64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

int RunLs(const CacheArgs& a) {
  Result<std::unique_ptr<BlockCache>> cache = OpenFromArgs(a);
  if (!cache) return Fail(cache.error());
  Result<std::vector<BlockCache::ObjectSummary>> list = cache.value()->List();
  if (!list) return Fail(list.error());
  std::printf("%-44s %12s %8s  %s\n", "KEY", "CACHED", "EXTENTS", "LAST USE");
  uint64_t total = 0;
  for (const auto& o : list.value()) {
    std::printf("%-44s %12s %8llu  %s\n", o.key.c_str(), HumanBytes(o.bytes).c_str(),
                static_cast<unsigned long long>(o.extents), Date(o.last_use).c_str());
    total += o.bytes;
  }
  std::printf("%zu objects, %s\n", list.value().size(), HumanBytes(total).c_str());
  return kExitOk;
}

int RunGc(const CacheArgs& a) {
  Result<std::unique_ptr<BlockCache>> cache = OpenFromArgs(a);
  if (!cache) return Fail(cache.error());
  uint64_t before = cache.value()->TotalBytes();
  if (Status s = cache.value()->Evict(a.all); !s.ok()) return Fail(s);
  uint64_t after = cache.value()->TotalBytes();
  std::printf("%s cached, %s freed\n", HumanBytes(after).c_str(),
              HumanBytes(before - after).c_str());
  return kExitOk;
}

int RunVerify(const CacheArgs& a) {
  Result<std::unique_ptr<BlockCache>> cache = OpenFromArgs(a);
  if (!cache) return Fail(cache.error());
  Result<BlockCache::VerifyReport> report = cache.value()->Verify();
  if (!report) return Fail(report.error());
  for (const std::string& bad : report.value().bad) {
    std::printf("bad: %s (dropped)\n", bad.c_str());
  }
  std::printf("%llu extents, %s checked, %zu bad\n",
              static_cast<unsigned long long>(report.value().extents),
              HumanBytes(report.value().bytes).c_str(), report.value().bad.size());
  return report.value().bad.empty() ? kExitOk : kExitFailure;
}

}  // namespace

void AddCacheCommands(CLI::App& app, CacheArgs& a, int (**run)(const CacheArgs&)) {
  CLI::App* cache = app.add_subcommand("cache", "Look after the block cache");
  cache->require_subcommand(1);
  auto add_dir = [&](CLI::App* cmd) {
    cmd->add_option("--cache-dir", a.cache_dir, "the cache directory")->capture_default_str();
  };
  CLI::App* ls = cache->add_subcommand("ls", "List cached objects: key, bytes cached, last use");
  add_dir(ls);
  ls->callback([run] { *run = &RunLs; });
  CLI::App* gc = cache->add_subcommand("gc", "Evict least recently used extents down to the "
                                             "limits now (--all: everything not in use)");
  add_dir(gc);
  gc->add_option("--cache-max", a.cache_max, "most bytes to keep (500M, 20G, ...)");
  gc->add_option("--min-free", a.min_free, "free space to leave on the cache's disk (SIZE or N%)");
  gc->add_flag("--all", a.all, "evict everything that is not being read");
  gc->callback([run] { *run = &RunGc; });
  CLI::App* verify = cache->add_subcommand(
      "verify", "Re-check every extent's CRC and drop bad ones; exit 1 if any were bad");
  add_dir(verify);
  verify->callback([run] { *run = &RunVerify; });
}

}  // namespace datumfs
