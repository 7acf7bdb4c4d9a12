// WalkDetector on recorded open sequences: which files it predicts, and when.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "reader/walk_detector.h"

namespace datumfs {
namespace {

// Replays opens; remembers every position predicted, and which opens had been predicted.
struct Walk {
  explicit Walk(uint32_t files, WalkOptions options = {})
      : detector(options, files), predicted(files, false) {}

  void Open(uint32_t position) {
    if (predicted[position]) ++hits;
    ++opens;
    WalkRange r = detector.Opened(position);
    for (uint32_t p = r.begin; p < r.end; ++p) {
      CHECK_FALSE(predicted[p]);  // never twice
      predicted[p] = true;
      furthest_predicted = std::max(furthest_predicted, p);
      ++predictions;
    }
  }
  void OpenAll(const std::vector<uint32_t>& order) {
    for (uint32_t p : order) Open(p);
  }
  // Predicted files that were never opened.
  uint32_t Wasted(const std::vector<uint32_t>& opened) const {
    std::vector<bool> was(predicted.size(), false);
    for (uint32_t p : opened) was[p] = true;
    uint32_t n = 0;
    for (size_t p = 0; p < predicted.size(); ++p) n += predicted[p] && !was[p];
    return n;
  }

  WalkDetector detector;
  std::vector<bool> predicted;
  uint32_t hits = 0, opens = 0, predictions = 0, furthest_predicted = 0;
};

std::vector<uint32_t> InOrder(uint32_t from, uint32_t to) {
  std::vector<uint32_t> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return v;
}

}  // namespace

TEST_SUITE("walk detector") {
  TEST_CASE("one reader in order: every file after the first three was predicted") {
    Walk w(1000);
    w.OpenAll(InOrder(0, 1000));
    CHECK(w.hits == 997);
    CHECK(w.predictions == 997);  // each file once, none past the end
    CHECK(w.detector.WindowAt(999) == 64);
  }

  TEST_CASE("the window grows from 4 files while predictions come true, up to the cap") {
    Walk w(1000);
    std::vector<uint32_t> windows;
    for (uint32_t p = 0; p < 40; ++p) {
      w.Open(p);
      windows.push_back(w.detector.WindowAt(p));
    }
    CHECK(windows[0] == 0);
    CHECK(windows[1] == 0);
    CHECK(windows[2] == 4);
    CHECK(windows[3] == 6);
    CHECK(windows[39] == 64);
    CHECK(w.furthest_predicted <= 39 + 64);
  }

  TEST_CASE("16 workers taking turns, each round in any order: nearly all predicted") {
    std::mt19937 random(7);
    std::vector<uint32_t> order;
    for (uint32_t round = 0; round < 2000; round += 16) {
      std::vector<uint32_t> batch = InOrder(round, round + 16);
      std::shuffle(batch.begin(), batch.end(), random);
      order.insert(order.end(), batch.begin(), batch.end());
    }
    Walk w(2000);
    w.OpenAll(order);
    CHECK(w.hits >= 1950);
    CHECK(w.Wasted(order) == 0);
  }

  TEST_CASE("a shuffled reader gets (almost) nothing") {
    std::vector<uint32_t> order = InOrder(0, 20000);
    std::shuffle(order.begin(), order.end(), std::mt19937(11));
    Walk w(20000);
    w.OpenAll(order);
    CHECK(w.predictions <= 16);
  }

  TEST_CASE("a shuffled reader of half a small directory wastes at most a window or two") {
    for (uint32_t seed = 0; seed < 50; ++seed) {
      std::vector<uint32_t> order = InOrder(0, 200);
      std::shuffle(order.begin(), order.end(), std::mt19937(seed));
      order.resize(100);
      Walk w(200);
      w.OpenAll(order);
      CHECK(w.Wasted(order) <= 2 * 4);
    }
  }

  TEST_CASE("a reader that stops halfway leaves at most one window unread") {
    Walk w(1000);
    const std::vector<uint32_t> half = InOrder(0, 500);
    w.OpenAll(half);
    CHECK(w.Wasted(half) <= 64);
    CHECK(w.furthest_predicted < 500 + 64);
  }

  TEST_CASE("two walks at once, in different places, are both followed") {
    Walk w(10000);
    for (uint32_t i = 0; i < 200; ++i) {
      w.Open(i);
      w.Open(5000 + i);
    }
    CHECK(w.hits >= 2 * 197);
    CHECK(w.detector.WindowAt(199) == 64);
    CHECK(w.detector.WindowAt(5199) == 64);
  }

  TEST_CASE("a jump elsewhere halves the window; the new place starts its own walk") {
    Walk w(10000);
    w.OpenAll(InOrder(0, 100));
    REQUIRE(w.detector.WindowAt(99) == 64);
    w.Open(7000);
    CHECK(w.detector.WindowAt(99) == 32);
    const uint32_t before = w.predictions;
    w.Open(7001);
    w.Open(7002);
    CHECK(w.predictions == before + 4);
  }

  TEST_CASE("a reader going backwards gets nothing") {
    Walk w(1000);
    std::vector<uint32_t> order = InOrder(0, 1000);
    std::reverse(order.begin(), order.end());
    w.OpenAll(order);
    CHECK(w.predictions == 0);
  }

  TEST_CASE("positions past the end are ignored") {
    Walk w(10);
    w.OpenAll(InOrder(0, 10));
    CHECK(w.furthest_predicted == 9);
    CHECK(w.detector.Opened(10).empty());
  }
}

}  // namespace datumfs
