#include <doctest/doctest.h>

#include <vector>

#include "reader/readahead_policy.h"

namespace datumfs {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * 1024;

TEST_SUITE("reader") {
  TEST_CASE("a random read fetches only its pages, aligned") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(32 * kMiB, 4096);
    CHECK(p.Plan(32 * kMiB, 4096, 64 * kMiB) == ByteRange{32 * kMiB, 4096});
    p.Observe(1000, 10);
    CHECK(p.Plan(1000, 10, 64 * kMiB) == ByteRange{0, 4096});
    CHECK_FALSE(p.sequential());
  }

  TEST_CASE("an unaligned read is widened to whole pages and clipped to the file") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(5000, 100);
    CHECK(p.Plan(5000, 100, 1 * kMiB) == ByteRange{4096, 4096});
    ReadaheadPolicy q{ReadaheadOptions{}};
    q.Observe(10000, 5000);
    CHECK(q.Plan(10000, 5000, 12345) == ByteRange{8192, 12345 - 8192});
  }

  TEST_CASE("a sequential reader gets a window that doubles up to the cap") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    uint64_t off = 0;
    p.Observe(off, 128 * kKiB);
    CHECK(p.Plan(off, 128 * kKiB, 1024 * kMiB).length == 128 * kKiB);
    std::vector<uint64_t> windows;
    for (int i = 0; i < 8; ++i) {
      off += 128 * kKiB;
      p.Observe(off, 128 * kKiB);
      ByteRange r = p.Plan(off, 128 * kKiB, 1024 * kMiB);
      CHECK(r.offset == off);
      windows.push_back(r.length);
    }
    CHECK(windows == std::vector<uint64_t>{256 * kKiB, 512 * kKiB, 1 * kMiB, 2 * kMiB, 4 * kMiB,
                                           4 * kMiB, 4 * kMiB, 4 * kMiB});
  }

  TEST_CASE("small reordering keeps the stream sequential") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(0, 128 * kKiB);
    p.Observe(256 * kKiB, 128 * kKiB);  // arrived before 128K
    CHECK(p.sequential());
    p.Observe(128 * kKiB, 128 * kKiB);
    CHECK(p.sequential());
  }

  TEST_CASE("a jump resets the window") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(0, 128 * kKiB);
    p.Observe(128 * kKiB, 128 * kKiB);
    CHECK(p.Plan(128 * kKiB, 128 * kKiB, 1024 * kMiB).length == 256 * kKiB);
    p.Observe(500 * kMiB, 4096);
    CHECK_FALSE(p.sequential());
    CHECK(p.window() == 0);
    CHECK(p.Plan(500 * kMiB, 4096, 1024 * kMiB).length == 4096);
  }
}

}  // namespace datumfs
