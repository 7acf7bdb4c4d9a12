#include "fetch/site_cache_nodes.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

namespace datumfs {
namespace {

using Clock = SiteCacheNodes::Clock;
using std::chrono::seconds;

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back("d-datum-" + std::to_string(i));
  return keys;
}

}  // namespace

TEST_SUITE("site cache nodes") {
  TEST_CASE("keys spread over the nodes, each always to the same one") {
    SiteCacheNodes nodes({"http://a:8380", "http://b:8380", "http://c:8380"});
    const Clock::time_point now{};
    std::map<size_t, int> per_node;
    for (const std::string& key : Keys(3000)) {
      std::optional<size_t> n = nodes.Pick(key, now);
      REQUIRE(n.has_value());
      CHECK(nodes.Pick(key, now) == n);
      ++per_node[*n];
    }
    REQUIRE(per_node.size() == 3);
    for (const auto& [node, count] : per_node) {
      CHECK(count > 700);  // a third is 1000
      CHECK(count < 1300);
    }
  }

  TEST_CASE("a node added takes about 1/N of the keys, and only keys move to it") {
    SiteCacheNodes three({"http://a:8380", "http://b:8380", "http://c:8380"});
    SiteCacheNodes four({"http://a:8380", "http://b:8380", "http://c:8380", "http://d:8380"});
    const Clock::time_point now{};
    int moved = 0;
    for (const std::string& key : Keys(4000)) {
      size_t before = *three.Pick(key, now), after = *four.Pick(key, now);
      if (before != after) {
        ++moved;
        CHECK(four.url(after) == "http://d:8380");
      }
    }
    CHECK(moved > 700);  // a quarter is 1000
    CHECK(moved < 1300);
  }

  TEST_CASE("a failed node rests, doubling, and its keys go to the others meanwhile") {
    SiteCacheNodes nodes({"http://a:8380", "http://b:8380"}, seconds(1), seconds(4));
    Clock::time_point t{};
    std::string key;
    for (const std::string& k : Keys(100)) {
      if (*nodes.Pick(k, t) == 0) key = k;
    }
    REQUIRE(!key.empty());
    nodes.Failed(0, t);
    nodes.Failed(0, t + std::chrono::milliseconds(10));  // under way when it failed: no more
    CHECK(nodes.Pick(key, t) == 1u);
    CHECK(nodes.Pick(key, t + std::chrono::milliseconds(999)) == 1u);
    CHECK(nodes.Pick(key, t + seconds(1)) == 0u);  // back after 1 s
    t += seconds(1);
    nodes.Failed(0, t);  // failed again after its rest: 2 s
    CHECK(nodes.Pick(key, t + seconds(1)) == 1u);
    CHECK(nodes.Pick(key, t + seconds(2)) == 0u);
    t += seconds(2);
    nodes.Failed(0, t);  // 4 s
    t += seconds(4);
    nodes.Failed(0, t);  // 8 s, capped at 4
    CHECK(nodes.resting(0, t + seconds(3)));
    CHECK_FALSE(nodes.resting(0, t + seconds(4)));
    nodes.Succeeded(0);
    CHECK(nodes.Pick(key, t) == 0u);
    nodes.Failed(0, t);  // after a success: 1 s again
    CHECK_FALSE(nodes.resting(0, t + seconds(1)));
  }

  TEST_CASE("all nodes resting: none (the request goes to the store)") {
    SiteCacheNodes nodes({"http://a:8380"});
    const Clock::time_point t{};
    nodes.Failed(0, t);
    CHECK_FALSE(nodes.Pick("d-x", t).has_value());
    CHECK(nodes.Pick("d-x", t + seconds(1)) == 0u);
  }
}

}  // namespace datumfs
