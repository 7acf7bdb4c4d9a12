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
