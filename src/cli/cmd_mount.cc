#include "cli/cmd_mount.h"

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>

#include "cli/cache_options.h"
#include "cli/daemonize.h"
#include "cli/exit_codes.h"
#include "cli/logging.h"
#include "cli/mountpoint.h"
#include "cli/seconds.h"
#include "cli/tls_options.h"
#include "datumfs/cache.h"
#include "datumfs/download.h"
#include "datumfs/fetch.h"
#include "datumfs/fuse_adapter.h"
#include "datumfs/manifest.h"
#include "datumfs/reader.h"
#include "datumfs/stats.h"
#include "datumfs/tree.h"
#include "datumfs/units.h"
#include "datumfs/url_refresher.h"

namespace datumfs {
namespace {

int Fail(int exit_code, const std::string& message) {
  std::fprintf(stderr, "datumfs: %s\n", message.c_str());
  return exit_code;
}

// The API file is optional (without it URLs cannot be refreshed), but if it is there it must
// be valid.
Result<ApiConfig> LoadOptionalApi(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    spdlog::info("{}: not found; expired URLs cannot be refreshed", path);
    return ApiConfig{};
  }
  return LoadApi(path);
}

// The cache is opened after the fork (an LMDB environment must not cross one). One that cannot
// be used is a warning: the mount works uncached.
std::unique_ptr<BlockCache> OpenCache(const CacheOptions& options) {
  Result<std::unique_ptr<BlockCache>> cache = BlockCache::Open(options);
  if (cache) return std::move(cache).value();
  spdlog::warn("cache {} is unusable ({}); reading without a cache", options.dir,
               cache.error().message());
  return nullptr;
}

StatsSnapshot Snapshot(const std::string& mountpoint, std::chrono::steady_clock::time_point start,
                       const Reader& reader, const Fetcher& fetcher, BlockCache* cache,
                       const UrlRefresher& refresher, const BackgroundDownload* download) {
  StatsSnapshot s;
  s.version = DATUMFS_VERSION;
  s.mountpoint = mountpoint;
  s.uptime_seconds = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count());
  ReaderCounters r = reader.counters();
  s.reads = r.reads;
  s.bytes_read = r.bytes_read;
  s.read_errors = r.read_errors;
  s.files_read = r.files_read;
  s.walk_ahead_files = r.walk_ahead_files;
  s.reads_from_cache_file = r.reads_from_cache_file;
  if (download) {
    DownloadProgress d = download->progress();
    s.download_bytes_total = d.bytes_total;
    s.download_bytes_done = d.bytes_done;
    s.download_files_failed = d.files_failed;
    s.download_eta_seconds = d.eta_seconds;
  }
  FetchCounters f = fetcher.counters();
  s.requests = f.requests;
  s.bytes_fetched = f.bytes;
  s.fetch_errors = f.errors;
  s.retries = f.retries;
  s.tls_errors = f.tls_errors;
  for (const SiteCacheCounters& node : f.site_caches) {
    s.site_caches.push_back(SiteCacheStats{node.node, node.requests, node.bytes, node.errors});
  }
  s.url_refreshes = refresher.refreshes();
  if (cache) {
    CacheCounters c = cache->counters();
    s.cache_hits = c.hits;
    s.cache_misses = c.misses;
    s.cache_bytes_written = c.bytes_written;
    s.evictions = c.evictions;
    s.evicted_bytes = c.evicted_bytes;
    s.corrupt_extents = c.corrupt_extents;
    s.cache_bytes = cache->TotalBytes();
  }
  return s;
}

// Everything after the mount: cache, fetcher, reader, serving. Returns the exit status.
int Serve(const MountArgs& args, const std::optional<CacheOptions>& cache_options,
          const ApiConfig& api, const TlsOptions& tls, const Tree& tree,
          const std::vector<uint32_t>& download_inputs, std::unique_ptr<FuseMount> mount,
          int notify_fd) {
  // Range buffers are megabytes each and come and go all the time. A fixed mmap threshold
  // keeps them out of the heap arenas (glibc otherwise raises the threshold after the first
  // free, and freed buffers then stay resident), so RSS follows the read-ahead budget.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  std::unique_ptr<BlockCache> cache = cache_options ? OpenCache(*cache_options) : nullptr;
  FetchOptions fetch_options;
  fetch_options.tls = tls;
  fetch_options.site_caches = args.site_caches;
  fetch_options.stall_time =
      std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(args.stall_timeout_seconds)));
  Result<std::unique_ptr<Fetcher>> fetcher = Fetcher::Create(fetch_options);
  if (!fetcher) {
    if (notify_fd >= 0) NotifyFailed(notify_fd, fetcher.error().message());
    return kExitFailure;
  }
  ReaderOptions reader_options;
  reader_options.read_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.read_timeout_seconds * 1000));
  reader_options.mountpoint = args.mountpoint;
  reader_options.walk_ahead_files = args.walk_ahead_files;
  RefreshOptions refresh_options;
  refresh_options.tls = tls;
  refresh_options.margin =
      std::chrono::seconds(static_cast<int64_t>(args.refresh_margin_seconds));
  UrlRefresher refresher(InputRequestApi{api.method, api.url, api.headers}, refresh_options);
  Reader reader(tree, *fetcher.value(), cache.get(), &refresher, reader_options);
  std::unique_ptr<BackgroundDownload> download;
  if (!download_inputs.empty() && !cache) {
    spdlog::warn("download: no usable cache to download into; --download is off");
  } else if (!download_inputs.empty()) {
    DownloadOptions download_options;
    download_options.mountpoint = args.mountpoint;
    download = std::make_unique<BackgroundDownload>(tree, reader, download_inputs,
                                                    download_options);
  }
  bool ready = false;
  const auto start = std::chrono::steady_clock::now();
  auto on_init = [&] {
    ready = true;
    spdlog::info("{}: mounted ({} inputs, {} entries)", args.mountpoint, tree.inputs().size(),
                 tree.node_count() - 1);
    if (notify_fd >= 0) NotifyReady(notify_fd);
    // Under systemd (Type=notify, with -f): the unit is started once the tree is visible.
    sd_notifyf(0, "READY=1\nSTATUS=%s: mounted", args.mountpoint.c_str());
    if (download) download->Start();
  };
  auto stats_json = [&] {
    return StatsToJson(
        Snapshot(args.mountpoint, start, reader, *fetcher.value(), cache.get(), refresher,
                 download.get()));
  };
  Status served = mount->Serve(reader, on_init, stats_json);
  sd_notify(0, "STOPPING=1");
  // Stop everything that could start a fetch, then the fetcher (its pending reads complete
  // while the session still exists), then the session, then the cache.
  if (download) download->Stop();
  reader.Stop();
  refresher.Stop();
  fetcher.value().reset();
  mount.reset();            // unmounts
  cache.reset();            // writes the last access times
  if (!served.ok()) {
    if (!ready && notify_fd >= 0) NotifyFailed(notify_fd, served.message());
    spdlog::error("{}: {}", args.mountpoint, served.message());
    return kExitFailure;
  }
  spdlog::info("{}: unmounted", args.mountpoint);
  return kExitOk;
}

// The nodes of --site-cache, each http(s)://HOST[:PORT] (a trailing "/" dropped), without
// duplicates.
Result<std::vector<std::string>> ParseSiteCaches(const std::vector<std::string>& given) {
  std::vector<std::string> nodes;
  for (std::string url : given) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    const size_t scheme = url.find("://");
    const std::string name = scheme == std::string::npos ? "" : url.substr(0, scheme);
    const std::string rest = scheme == std::string::npos ? "" : url.substr(scheme + 3);
    if ((name != "http" && name != "https") || rest.empty() ||
        rest.find_first_of("/?#@ ") != std::string::npos) {
      return Status::Errno(EINVAL, "--site-cache",
                           "'" + url + "' is not a site cache node: give http(s)://HOST[:PORT]");
    }
    if (std::find(nodes.begin(), nodes.end(), url) == nodes.end()) nodes.push_back(url);
  }
  return nodes;
}

// Every long option (and MOUNTPOINT) can also come from the environment, for a systemd
// EnvironmentFile or a container: --cache-max from DATUMFS_CACHE_MAX, MOUNTPOINT from
// DATUMFS_MOUNTPOINT. The command line wins.
void SetEnvironmentNames(CLI::App& cmd) {
  for (CLI::Option* option : cmd.get_options()) {
    std::string name = !option->get_lnames().empty() ? option->get_lnames().front()
                       : option->get_positional()   ? option->get_name()
                                                    : "";
    if (name.empty() || name == "help") continue;
    std::string env = "DATUMFS_";
    for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    option->envname(env);
  }
}

}  // namespace

CLI::App* AddMountCommand(CLI::App& app, MountArgs& a) {
  CLI::App* cmd = app.add_subcommand(
      "mount", "Mount the inputs of inputs.json at MOUNTPOINT; returns once the tree is visible");
  cmd->add_option("--inputs", a.inputs, "inputs.json to mount")->capture_default_str();
  cmd->add_option("--api", a.api, "api.json (input_request, for fresh URLs)")->capture_default_str();
  cmd->add_flag("--strict", a.strict, "refuse to mount if any entry has a bad or colliding name");
  cmd->add_flag("-f,--foreground", a.foreground, "stay in the foreground, log to stderr");
  cmd->add_option("-o", a.fuse_options, "FUSE mount options, comma-separated (allow_other, ...)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--cache-dir", a.cache_dir, "the block cache, shared by every mount on the host")
      ->capture_default_str();
  cmd->add_option("--cache-max", a.cache_max, "most bytes to cache (500M, 20G, ...); default: no limit");
  cmd->add_option("--min-free", a.min_free,
                  "free space to leave on the cache's disk (SIZE or N%); default 10%, "
                  "at least 1G on disks of 10G or more");
  cmd->add_option("--read-timeout", a.read_timeout_seconds,
                  "seconds a read may wait for the store before it fails with EIO")
      ->capture_default_str()
      ->check(Seconds());
  cmd->add_option("--stall-timeout", a.stall_timeout_seconds,
                  "seconds a transfer may move under 1 KiB/s before it is retried")
      ->capture_default_str()
      ->check(Seconds());
  cmd->add_option("--refresh-margin", a.refresh_margin_seconds,
                  "refresh a pre-signed URL through api.json's input_request this many seconds "
                  "before it expires")
      ->capture_default_str()
      ->check(Seconds(true));
  cmd->add_option("--walk-ahead", a.walk_ahead_files,
                  "files to fetch ahead, at most, of a job that walks a directory in order "
                  "(0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--download", a.download,
                  "INPUT[,INPUT...] or all: read these inputs whole into the cache in the "
                  "background, the job's own reads first");
  cmd->add_option("--log-level", a.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cmd->add_option("--log-file", a.log_file,
                  "append log lines to FILE instead of syslog (or of stderr with -f)");
  cmd->add_option("--ca-file", a.ca_file,
                  "trust the CA certificates in this PEM file (private stores, site caches) "
                  "instead of the system's");
  cmd->add_option("--site-cache", a.site_caches,
                  "URL[,URL...]: read through these site cache nodes (nginx with "
                  "packaging/site-cache/; doc/site-cache.md), the store directly when they fail")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("mountpoint", a.mountpoint, "where to mount")->capture_default_str();
  SetEnvironmentNames(*cmd);
  return cmd;
}

int RunMount(const MountArgs& args) {
  LogToStderr(args.log_level);  // until detached: warnings reach the shell
  if (!args.log_file.empty()) {
    if (Status s = LogToFile(args.log_file, args.log_level); !s.ok()) {
      return Fail(kExitUsage, s.message());
    }
  }
  Result<CacheOptions> cache_options =
      ParseCacheOptions(args.cache_dir, args.cache_max, args.min_free);
  if (!cache_options) return Fail(kExitUsage, cache_options.error().message());
  Result<ApiConfig> api = LoadOptionalApi(args.api);
  if (!api) return Fail(kExitBadInput, api.error().message());
  Result<TlsOptions> tls = ResolveTls(args.ca_file);
  if (!tls) return Fail(kExitUsage, tls.error().message());
  Result<std::vector<std::string>> site_caches = ParseSiteCaches(args.site_caches);
  if (!site_caches) return Fail(kExitUsage, site_caches.error().message());

  std::optional<CacheOptions> cache = cache_options.value();
  if (Status usable = BlockCache::Prepare(*cache); !usable.ok()) {
    spdlog::warn("cache is unusable ({}); reading without a cache", usable.message());
    cache.reset();
  }

  if (Status s = PrepareMountpoint(args.mountpoint); !s.ok()) return Fail(kExitFailure, s.message());
  int dir_fd = open(args.mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Fail(kExitFailure, ErrnoStatus(args.mountpoint, errno).message());
  std::vector<std::string> warnings;
  Result<std::vector<LocalEntry>> local = ScanLocalDir(dir_fd, &warnings);
  if (!local) return Fail(kExitFailure, args.mountpoint + ": " + local.error().message());
  for (const std::string& w : warnings) spdlog::warn("{}: {}", args.mountpoint, w);
  warnings.clear();
  Result<Tree> tree =
      Tree::BuildFromFile(args.inputs, local.value(), TreeOptions{args.strict}, &warnings);
  if (!tree) return Fail(kExitBadInput, tree.error().message());
  for (const std::string& w : warnings) spdlog::warn("{}: {}", args.inputs, w);
  std::vector<uint32_t> download;
  if (!args.download.empty()) {
    Result<std::vector<uint32_t>> chosen = ChooseInputs(tree.value(), args.download);
    if (!chosen) return Fail(kExitUsage, args.inputs + ": " + chosen.error().message());
    download = std::move(chosen).value();
  }
  malloc_trim(0);  // give back what parsing used: a large manifest's peak is not the tree's

  MountOptions mount_options;
  mount_options.mountpoint = args.mountpoint;
  mount_options.fuse_options = args.fuse_options;
  Result<std::unique_ptr<FuseMount>> mount = FuseMount::Mount(tree.value(), dir_fd, mount_options);
  if (!mount) return Fail(kExitFailure, mount.error().message());
  int notify_fd = -1;
  if (!args.foreground) {
    FuseMount* m = mount.value().get();
    notify_fd = DetachAndWait([m] { m->Unmount(); });  // only the child returns
    if (notify_fd < 0) return Fail(kExitFailure, ErrnoStatus("fork", errno).message());
    if (args.log_file.empty()) LogToSyslog(args.log_level);
  }
  MountArgs serving = args;
  serving.site_caches = std::move(site_caches).value();
  return Serve(serving, cache, api.value(), tls.value(), tree.value(), download,
               std::move(mount.value()), notify_fd);
}

}  // namespace datumfs
