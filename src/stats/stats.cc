#include "datumfs/stats.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>

#include "datumfs/units.h"

namespace datumfs {
namespace {

using K = MetricKind;
using U = MetricUnit;
using S = StatsSnapshot;

constexpr MetricInfo kMetrics[] = {
    {"uptime_seconds", "datumfs_uptime_seconds", K::kGauge, U::kSeconds,
     "Seconds since the file system was mounted.", &S::uptime_seconds},
    {"reads", "datumfs_reads_total", K::kCounter, U::kCount, "Read requests on remote files.",
     &S::reads},
    {"bytes_read", "datumfs_read_bytes_total", K::kCounter, U::kBytes,
     "Bytes returned to programs reading remote files.", &S::bytes_read},
    {"read_errors", "datumfs_read_errors_total", K::kCounter, U::kCount,
     "Read requests answered with an error.", &S::read_errors},
    {"files_read", "datumfs_files_read_total", K::kCounter, U::kCount,
     "Files read from their first to their last byte.", &S::files_read},
    {"requests", "datumfs_requests_total", K::kCounter, U::kCount,
     "HTTP requests sent to the store.", &S::requests},
    {"bytes_fetched", "datumfs_fetched_bytes_total", K::kCounter, U::kBytes,
     "Body bytes received from the store.", &S::bytes_fetched},
    {"fetch_errors", "datumfs_fetch_errors_total", K::kCounter, U::kCount,
     "Transfers that failed after their retries.", &S::fetch_errors},
    {"retries", "datumfs_retries_total", K::kCounter, U::kCount,
     "Transfers tried again after a failure.", &S::retries},
    {"tls_errors", "datumfs_tls_errors_total", K::kCounter, U::kCount,
     "Transfers failed by a TLS problem retrying cannot fix (certificate, CA bundle).",
     &S::tls_errors},
    {"url_refreshes", "datumfs_url_refreshes_total", K::kCounter, U::kCount,
     "Pre-signed URLs refreshed through the input_request API.", &S::url_refreshes},
    {"walk_ahead_files", "datumfs_walk_ahead_files_total", K::kCounter, U::kCount,
     "Files fetched ahead of a job walking the tree, then opened by it.", &S::walk_ahead_files},
    {"reads_from_cache_file", "datumfs_reads_from_cache_file_total", K::kCounter, U::kCount,
     "Reads answered straight from the block cache's file (spliced, not copied).",
     &S::reads_from_cache_file},
    {"download_bytes_total", "datumfs_download_bytes", K::kGauge, U::kBytes,
     "Bytes of the inputs chosen with --download (0 without).", &S::download_bytes_total},
    {"download_bytes_done", "datumfs_download_done_bytes", K::kGauge, U::kBytes,
     "Bytes of the --download inputs in the cache: found there or downloaded.",
     &S::download_bytes_done},
    {"download_files_failed", "datumfs_download_files_failed_total", K::kCounter, U::kCount,
     "Files the background download gave up on (left for the job to read).",
     &S::download_files_failed},
    {"download_eta_seconds", "datumfs_download_eta_seconds", K::kGauge, U::kSeconds,
     "Seconds the background download still needs at its rate so far (0: done or not known).",
     &S::download_eta_seconds},
    {"cache_hits", "datumfs_cache_hits_total", K::kCounter, U::kCount,
     "Ranges served wholly from the block cache.", &S::cache_hits},
    {"cache_misses", "datumfs_cache_misses_total", K::kCounter, U::kCount,
     "Ranges the block cache did not hold wholly.", &S::cache_misses},
    {"cache_bytes_written", "datumfs_cache_written_bytes_total", K::kCounter, U::kBytes,
     "Bytes written into the block cache.", &S::cache_bytes_written},
    {"evictions", "datumfs_cache_evictions_total", K::kCounter, U::kCount,
     "Cache extents evicted by this mount.", &S::evictions},
    {"evicted_bytes", "datumfs_cache_evicted_bytes_total", K::kCounter, U::kBytes,
     "Bytes evicted from the cache by this mount.", &S::evicted_bytes},
    {"corrupt_extents", "datumfs_cache_corrupt_extents_total", K::kCounter, U::kCount,
     "Cache extents that failed their CRC check and were dropped.", &S::corrupt_extents},
    {"cache_bytes", "datumfs_cache_bytes", K::kGauge, U::kBytes,
     "Bytes the block cache holds, for every mount on the host.", &S::cache_bytes},
};

// Prometheus label values escape backslash, double quote and newline.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string FormatValue(uint64_t v, MetricUnit unit) {
  switch (unit) {
    case U::kBytes:
      return v < 1000 ? std::to_string(v) + " B" : HumanBytes(v) + " (" + std::to_string(v) + ")";
    case U::kSeconds: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%llud %02llu:%02llu:%02llu",
                    static_cast<unsigned long long>(v / 86400),
                    static_cast<unsigned long long>(v / 3600 % 24),
                    static_cast<unsigned long long>(v / 60 % 60),
                    static_cast<unsigned long long>(v % 60));
      return buf;
    }
    case U::kCount:
      break;
  }
  return std::to_string(v);
}

// The per-node counters, for JSON, Prometheus and the table alike.
struct NodeMetric {
  const char* json_key;
  const char* prometheus_name;
  MetricUnit unit;
  const char* help;
  uint64_t SiteCacheStats::*field;
};
constexpr NodeMetric kNodeMetrics[] = {
    {"requests", "datumfs_site_cache_requests_total", U::kCount,
     "HTTP requests sent through a site cache node.", &SiteCacheStats::requests},
    {"bytes", "datumfs_site_cache_bytes_total", U::kBytes,
     "Body bytes received through a site cache node (part of datumfs_fetched_bytes_total).",
     &SiteCacheStats::bytes},
    {"errors", "datumfs_site_cache_errors_total", U::kCount,
     "Requests through a site cache node that failed by its fault (then sent to the store).",
     &SiteCacheStats::errors},
};

void WriteSiteCaches(const StatsSnapshot& stats, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  w.Key("site_caches");
  w.StartObject();
  for (const SiteCacheStats& node : stats.site_caches) {
    w.Key(node.node.c_str(), static_cast<rapidjson::SizeType>(node.node.size()));
    w.StartObject();
    for (const NodeMetric& m : kNodeMetrics) {
      w.Key(m.json_key);
      w.Uint64(node.*m.field);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("site_cache_share");
  w.Double(SiteCacheShare(stats));
}

// Absent (a daemon from before site caches) is no error; present, it must be well formed.
Status ReadSiteCaches(const rapidjson::Document& doc, StatsSnapshot& stats) {
  if (!doc.HasMember("site_caches")) return Status();
  const rapidjson::Value& nodes = doc["site_caches"];
  if (!nodes.IsObject()) return Status::Errno(EINVAL, "stats", "\"site_caches\" is no object");
  for (auto it = nodes.MemberBegin(); it != nodes.MemberEnd(); ++it) {
    SiteCacheStats node;
    node.node = it->name.GetString();
    for (const NodeMetric& m : kNodeMetrics) {
      if (!it->value.IsObject() || !it->value.HasMember(m.json_key) ||
          !it->value[m.json_key].IsUint64()) {
        return Status::Errno(EINVAL, "stats",
                             "site cache " + node.node + ": no counter \"" + m.json_key + "\"");
      }
      node.*m.field = it->value[m.json_key].GetUint64();
    }
    stats.site_caches.push_back(std::move(node));
  }
  return Status();
}

std::string FormatRate(uint64_t delta, MetricUnit unit, double seconds) {
  double per_second = static_cast<double>(delta) / std::max(seconds, 1e-3);
  if (unit == U::kBytes) return HumanBytes(static_cast<uint64_t>(per_second)) + "/s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f/s", per_second);
  return buf;
}

}  // namespace

std::span<const MetricInfo> Metrics() { return kMetrics; }

double SiteCacheShare(const StatsSnapshot& stats) {
  uint64_t through = 0;
  for (const SiteCacheStats& node : stats.site_caches) through += node.bytes;
  if (stats.bytes_fetched == 0) return 0;
  return std::min(1.0, static_cast<double>(through) / static_cast<double>(stats.bytes_fetched));
}

std::string StatsToJson(const StatsSnapshot& stats) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("version");
  w.String(stats.version.c_str(), static_cast<rapidjson::SizeType>(stats.version.size()));
  w.Key("mountpoint");
  w.String(stats.mountpoint.c_str(), static_cast<rapidjson::SizeType>(stats.mountpoint.size()));
  for (const MetricInfo& m : kMetrics) {
    w.Key(m.json_key);
    w.Uint64(stats.*m.field);
  }
  WriteSiteCaches(stats, w);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

Result<StatsSnapshot> StatsFromJson(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return Status::Errno(EINVAL, "stats", std::string("not JSON: ") +
                                              rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Status::Errno(EINVAL, "stats", "not a JSON object");
  StatsSnapshot stats;
  using Text = std::pair<const char*, std::string S::*>;
  for (auto [key, field] : {Text{"version", &S::version}, Text{"mountpoint", &S::mountpoint}}) {
    // (Not FindMember: Clang in C++20 finds rapidjson's iterator comparisons ambiguous.)
    if (doc.HasMember(key) && doc[key].IsString()) stats.*field = doc[key].GetString();
  }
  for (const MetricInfo& m : kMetrics) {
    if (!doc.HasMember(m.json_key) || !doc[m.json_key].IsUint64()) {
      return Status::Errno(EINVAL, "stats", std::string("no counter \"") + m.json_key + "\"");
    }
    stats.*m.field = doc[m.json_key].GetUint64();
  }
  if (Status nodes = ReadSiteCaches(doc, stats); !nodes.ok()) return nodes;
  return stats;
}

std::string StatsToPrometheus(const StatsSnapshot& stats) {
  const std::string labels = "{mountpoint=\"" + LabelValue(stats.mountpoint) + "\"}";
  std::string out;
  out += "# HELP datumfs_build_info The datumfs version serving the mount.\n";
  out += "# TYPE datumfs_build_info gauge\n";
  out += "datumfs_build_info{mountpoint=\"" + LabelValue(stats.mountpoint) + "\",version=\"" +
         LabelValue(stats.version) + "\"} 1\n";
  for (const MetricInfo& m : kMetrics) {
    out += std::string("# HELP ") + m.prometheus_name + " " + m.help + "\n";
    out += std::string("# TYPE ") + m.prometheus_name + " " +
           (m.kind == K::kCounter ? "counter" : "gauge") + "\n";
    out += m.prometheus_name + labels + " " + std::to_string(stats.*m.field) + "\n";
  }
  if (stats.site_caches.empty()) return out;
  for (const NodeMetric& m : kNodeMetrics) {
    out += std::string("# HELP ") + m.prometheus_name + " " + m.help + "\n";
    out += std::string("# TYPE ") + m.prometheus_name + " counter\n";
    for (const SiteCacheStats& node : stats.site_caches) {
      out += std::string(m.prometheus_name) + "{mountpoint=\"" + LabelValue(stats.mountpoint) +
             "\",node=\"" + LabelValue(node.node) + "\"} " + std::to_string(node.*m.field) + "\n";
    }
  }
  return out;
}

std::string StatsToTable(const StatsSnapshot& stats, const StatsSnapshot* previous,
                         double interval_seconds) {
  std::string out = "datumfs " + stats.version + " at " + stats.mountpoint + "\n";
  for (const MetricInfo& m : kMetrics) {
    char line[160];
    std::string value = FormatValue(stats.*m.field, m.unit);
    if (previous && m.kind == K::kCounter && stats.*m.field > previous->*m.field) {
      value += "  " + FormatRate(stats.*m.field - previous->*m.field, m.unit, interval_seconds);
    }
    std::snprintf(line, sizeof line, "  %-20s %s\n", m.json_key, value.c_str());
    out += line;
  }
  if (stats.site_caches.empty()) return out;
  for (const SiteCacheStats& node : stats.site_caches) {
    out += "  site cache " + node.node + ":";
    for (const NodeMetric& m : kNodeMetrics) {
      out += std::string(" ") + m.json_key + " " + FormatValue(node.*m.field, m.unit);
    }
    out += "\n";
  }
  char share[64];
  std::snprintf(share, sizeof share, "  %-20s %.1f %%\n", "site_cache_share",
                100 * SiteCacheShare(stats));
  return out + share;
}

}  // namespace datumfs
