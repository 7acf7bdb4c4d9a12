#include <doctest/doctest.h>

#include <set>
#include <string>

#include "datumfs/stats.h"

namespace datumfs {

namespace {

StatsSnapshot Sample() {
  StatsSnapshot s;
  s.version = "0.1.0";
  s.mountpoint = "/valohai/inputs";
  uint64_t n = 1;
  for (const MetricInfo& m : Metrics()) s.*m.field = n++ * 1000003;
  return s;
}

}  // namespace

TEST_SUITE("stats") {
  TEST_CASE("every metric goes through JSON and back") {
    StatsSnapshot s = Sample();
    Result<StatsSnapshot> back = StatsFromJson(StatsToJson(s));
    REQUIRE(back);
    CHECK(back.value().version == s.version);
    CHECK(back.value().mountpoint == s.mountpoint);
    for (const MetricInfo& m : Metrics()) CHECK(back.value().*m.field == s.*m.field);
  }

  TEST_CASE("JSON with a missing counter or that is not JSON is an error naming it") {
    Result<StatsSnapshot> missing = StatsFromJson(R"({"version": "1"})");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message().find("uptime_seconds") != std::string::npos);
    CHECK_FALSE(StatsFromJson("{"));
    CHECK_FALSE(StatsFromJson("[]"));
  }

  TEST_CASE("metric names are unique, datumfs_-prefixed, counters end in _total") {
    std::set<std::string> names, keys;
    for (const MetricInfo& m : Metrics()) {
      std::string name = m.prometheus_name;
      CHECK(names.insert(name).second);
      CHECK(keys.insert(m.json_key).second);
      CHECK(name.rfind("datumfs_", 0) == 0);
      CHECK((m.kind == MetricKind::kCounter) == name.ends_with("_total"));
      if (m.unit == MetricUnit::kBytes) CHECK(name.find("bytes") != std::string::npos);
      if (m.unit == MetricUnit::kSeconds) CHECK(name.find("seconds") != std::string::npos);
    }
  }

  TEST_CASE("Prometheus text escapes the mountpoint label") {
    StatsSnapshot s = Sample();
    s.mountpoint = "/mnt/a \"b\"\\c";
    std::string text = StatsToPrometheus(s);
    CHECK(text.find(R"(mountpoint="/mnt/a \"b\"\\c")") != std::string::npos);
    CHECK(text.find("\ndatumfs_requests_total{") != std::string::npos);
    CHECK(text.find("# TYPE datumfs_cache_bytes gauge\n") != std::string::npos);
  }

  TEST_CASE("site cache nodes: JSON and back, Prometheus labelled by node, the share") {
    StatsSnapshot s = Sample();
    s.bytes_fetched = 4000;
    s.site_caches = {{"http://10.0.0.5:8380", 7, 2000, 1}, {"https://cache-b", 3, 1000, 0}};
    CHECK(SiteCacheShare(s) == doctest::Approx(0.75));
    Result<StatsSnapshot> back = StatsFromJson(StatsToJson(s));
    REQUIRE(back);
    REQUIRE(back.value().site_caches.size() == 2);
    CHECK(back.value().site_caches[0].node == "http://10.0.0.5:8380");
    CHECK(back.value().site_caches[0].requests == 7);
    CHECK(back.value().site_caches[0].bytes == 2000);
    CHECK(back.value().site_caches[0].errors == 1);
    CHECK(back.value().site_caches[1].node == "https://cache-b");
    CHECK(StatsToJson(s).find("\"site_cache_share\":0.75") != std::string::npos);
    std::string text = StatsToPrometheus(s);
    CHECK(text.find("datumfs_site_cache_bytes_total{mountpoint=\"/valohai/inputs\",node=\"http://"
                    "10.0.0.5:8380\"} 2000\n") != std::string::npos);
    CHECK(text.find("# TYPE datumfs_site_cache_errors_total counter\n") != std::string::npos);
    std::string table = StatsToTable(s);
    CHECK(table.find("site cache https://cache-b: requests 3 bytes 1.0 kB (1000) errors 0\n") !=
          std::string::npos);
    CHECK(table.find("site_cache_share     75.0 %\n") != std::string::npos);
  }

  TEST_CASE("without site caches: none shown but in JSON, and an old daemon's JSON reads") {
    StatsSnapshot s = Sample();
    CHECK(StatsToPrometheus(s).find("site_cache") == std::string::npos);
    CHECK(StatsToTable(s).find("site cache") == std::string::npos);
    std::string json = StatsToJson(s);
    CHECK(json.find("\"site_caches\":{}") != std::string::npos);
    const size_t cut = json.find(",\"site_caches\"");
    Result<StatsSnapshot> old = StatsFromJson(json.substr(0, cut) + "}");
    REQUIRE(old);
    CHECK(old.value().site_caches.empty());
    CHECK_FALSE(StatsFromJson(json.substr(0, cut) + R"(,"site_caches":{"x":{"bytes":1}}})"));
  }

  TEST_CASE("the table shows sizes in SI units and rates of what moved") {
    StatsSnapshot before = Sample(), now = Sample();
    now.bytes_fetched = before.bytes_fetched + 2'500'000;
    now.uptime_seconds = 3725;
    std::string table = StatsToTable(now, &before, 0.5);
    CHECK(table.find("5.0 MB/s") != std::string::npos);
    CHECK(table.find("uptime_seconds       0d 01:02:05\n") != std::string::npos);
  }
}

}  // namespace datumfs
