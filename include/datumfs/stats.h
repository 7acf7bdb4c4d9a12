// A running mount's counters, and the three ways they are shown: JSON (the root's
// `user.datumfs.stats` extended attribute, `datumfs stats --json`), Prometheus text exposition
// (`--prometheus`) and a table for a person. Every counter is listed once, in kMetrics, with
// its JSON key and its Prometheus name, so that the three never disagree.
#ifndef DATUMFS_STATS_H_
#define DATUMFS_STATS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/status.h"

namespace datumfs {

// One site cache node's share of the transfers (mount --site-cache).
struct SiteCacheStats {
  std::string node;       // its base URL
  uint64_t requests = 0;  // attempts sent through it
  uint64_t bytes = 0;     // body bytes received through it (part of bytes_fetched)
  uint64_t errors = 0;    // attempts failed by its fault (then the store directly)
};

struct StatsSnapshot {
  std::string version;
  std::string mountpoint;
  uint64_t uptime_seconds = 0;
  // Reads of remote files by programs, as the kernel passed them on.
  uint64_t reads = 0;
  uint64_t bytes_read = 0;
  uint64_t read_errors = 0;  // reads answered with an error (EIO, ...)
  uint64_t files_read = 0;   // files read from first to last byte
  // Transfers from the store.
  uint64_t requests = 0;
  uint64_t bytes_fetched = 0;
  uint64_t fetch_errors = 0;  // transfers that failed after their retries
  uint64_t retries = 0;
  uint64_t tls_errors = 0;  // transfers failed by a TLS problem retrying cannot fix
  uint64_t url_refreshes = 0;
  uint64_t walk_ahead_files = 0;  // files fetched ahead of a job's walk that it opened
  uint64_t reads_from_cache_file = 0;  // answered from the cache's file by splice
  // The background download (mount --download); all 0 without one.
  uint64_t download_bytes_total = 0;
  uint64_t download_bytes_done = 0;
  uint64_t download_files_failed = 0;
  uint64_t download_eta_seconds = 0;  // 0: done or not known yet
  // The block cache (shared by every mount on the host; the counts are this mount's).
  uint64_t cache_hits = 0;    // ranges served wholly from the cache
  uint64_t cache_misses = 0;  // ranges that needed the store
  uint64_t cache_bytes_written = 0;
  uint64_t evictions = 0;  // extents evicted
  uint64_t evicted_bytes = 0;
  uint64_t corrupt_extents = 0;
  uint64_t cache_bytes = 0;  // what the cache holds now, for every mount
  // Not in Metrics(): one entry per node, labelled with it.
  std::vector<SiteCacheStats> site_caches;
};

// The share of bytes_fetched that came through site cache nodes, 0 to 1.
double SiteCacheShare(const StatsSnapshot& stats);

enum class MetricKind { kCounter, kGauge };
enum class MetricUnit { kCount, kBytes, kSeconds };

struct MetricInfo {
  const char* json_key;
  const char* prometheus_name;  // "datumfs_..._total" for counters, unit in the name
  MetricKind kind;
  MetricUnit unit;
  const char* help;
  uint64_t StatsSnapshot::*field;
};

std::span<const MetricInfo> Metrics();

// {"version": ..., "mountpoint": ..., "<json_key>": N, ..., "site_caches": {"<node>":
// {"requests": N, "bytes": N, "errors": N}, ...}, "site_cache_share": 0.93}
std::string StatsToJson(const StatsSnapshot& stats);
// Unknown keys are ignored (a newer daemon may send more); a missing metric is an error.
Result<StatsSnapshot> StatsFromJson(std::string_view json);
// Text exposition format 0.0.4: # HELP, # TYPE and one sample per metric, labelled with the
// mountpoint (and the node, for datumfs_site_cache_*).
std::string StatsToPrometheus(const StatsSnapshot& stats);
// Aligned "label  value" lines for a person; sizes in SI units (kB, MB, GB). With `previous`
// (one `interval_seconds` earlier), counters that moved also show their rate.
std::string StatsToTable(const StatsSnapshot& stats, const StatsSnapshot* previous = nullptr,
                         double interval_seconds = 1.0);

}  // namespace datumfs

#endif  // DATUMFS_STATS_H_
