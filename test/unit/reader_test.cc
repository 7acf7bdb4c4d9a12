#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "reader/coverage.h"
#include "reader/open_file.h"
#include "reader/read_path.h"
#include "reader/object_stream.h"
#include "reader/read_through_log.h"
#include "reader/readahead_policy.h"
#include "reader_fixtures.h"

namespace datumfs {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * 1024;

namespace {

// A real ReadPath (no cache) over a fetcher that answers every request at once: what a
// sequence of reads makes the reader fetch, and where its read-ahead policy stands.
struct Replay {
  explicit Replay(uint64_t file_size = 1024 * kMiB)
      : size(file_size),
        tree(RemoteTree({{"f.bin", file_size, ""}})),
        reader(tree, fetcher, nullptr, nullptr, ReaderOptions{}),
        file(reader.Open(FileNode(tree, "f.bin"), false)) {}
  ~Replay() { reader.Stop(); }

  void Read(uint64_t offset, uint64_t length) {
    int replies = 0;
    reader.Read(file, offset, length, [&](const Status& status, std::string_view bytes) {
      CHECK(status.ok());
      CHECK(bytes.size() == length);
      ++replies;
    });
    CHECK(replies == 1);  // answered at once: every fetch is
    fetched = fetcher.ranges();
  }
  void ReadSequentially(uint64_t from, uint64_t to, uint64_t chunk) {
    for (uint64_t off = from; off < to; off += chunk) Read(off, std::min(chunk, to - off));
  }
  uint64_t FetchedBytes() const {
    uint64_t n = 0;
    for (const ByteRange& r : fetched) n += r.length;
    return n;
  }
  uint64_t window() {
    MutexLock lock(&file->mu_);
    return file->policy_.window();
  }
  bool sequential() {
    MutexLock lock(&file->mu_);
    return file->policy_.sequential();
  }

  const uint64_t size;
  Tree tree;
  AnsweringFetcher fetcher;
  ReadPath reader;
  std::shared_ptr<OpenFile> file;
  std::vector<ByteRange> fetched;  // every request, in order
};

}  // namespace

TEST_SUITE("reader") {
  TEST_CASE("a random read fetches only its pages, aligned, and nothing ahead") {
    Replay r(64 * kMiB);
    r.Read(32 * kMiB, 4096);
    r.Read(1000, 10);
    r.Read(17 * kMiB + 5, 4096);  // touches two pages
    CHECK(r.fetched == std::vector<ByteRange>{{32 * kMiB, 4096}, {0, 4096},
                                              {17 * kMiB, 8192}});
    CHECK_FALSE(r.sequential());
  }

  TEST_CASE("a read at the start of a small file fetches all of it, elsewhere only its pages") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(0, 4096);
    CHECK(p.Demand(0, 4096, 1 * kMiB) == ByteRange{0, 1 * kMiB});
    CHECK(p.Demand(0, 4096, 1 * kMiB + 1) == ByteRange{0, 4096});
    p.Observe(8192, 4096);
    CHECK(p.Demand(8192, 4096, 1 * kMiB) == ByteRange{8192, 4096});
  }

  TEST_CASE("a small file fetched whole at its first read is not fetched again ahead") {
    Replay r(300 * kKiB);  // past sequential_after, under whole_file_below
    r.ReadSequentially(0, r.size, 64 * kKiB);
    CHECK(r.fetched == std::vector<ByteRange>{{0, 300 * kKiB}});
  }

  TEST_CASE("an unaligned read is widened to whole pages and clipped to the file") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    p.Observe(5000, 100);
    CHECK(p.Demand(5000, 100, 1 * kMiB) == ByteRange{4096, 4096});
    ReadaheadPolicy q{ReadaheadOptions{}};
    q.Observe(10000, 5000);
    CHECK(q.Demand(10000, 5000, 12345) == ByteRange{8192, 12345 - 8192});
  }

  TEST_CASE("a sequential reader fetches every byte once, in parts of at most 8 MiB") {
    Replay r(300 * kMiB + 12345);
    r.ReadSequentially(0, r.size, 128 * kKiB);
    CHECK(r.FetchedBytes() == r.size);
    std::vector<ByteRange> sorted = r.fetched;
    std::sort(sorted.begin(), sorted.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
    uint64_t pos = 0;
    for (const ByteRange& f : sorted) {
      CHECK(f.offset == pos);  // no gap, no overlap
      pos = f.end();
      CHECK(f.length <= 8 * kMiB);
      CHECK((f.offset / (8 * kMiB) == (f.end() - 1) / (8 * kMiB)));  // never crosses a part
    }
    CHECK(r.window() == 64 * kMiB);
  }

  TEST_CASE("the window doubles from 1 MiB to the cap as the reader uses it up") {
    Replay r;
    std::vector<uint64_t> windows;
    for (uint64_t off = 0; off < 300 * kMiB; off += 128 * kKiB) {
      uint64_t before = r.window();
      r.Read(off, 128 * kKiB);
      if (r.window() != before) windows.push_back(r.window());
      // Never more than the window (plus the read's own alignment) ahead of the reader.
      uint64_t furthest = 0;
      for (const ByteRange& f : r.fetched) furthest = std::max(furthest, f.end());
      CHECK(furthest <= off + 128 * kKiB + 64 * kMiB + 128 * kKiB);
    }
    CHECK(windows == std::vector<uint64_t>{1 * kMiB, 2 * kMiB, 4 * kMiB, 8 * kMiB, 16 * kMiB,
                                           32 * kMiB, 64 * kMiB});
  }

  TEST_CASE("the 64 MiB window is in flight as eight parallel 8 MiB requests") {
    Replay r;
    r.ReadSequentially(0, 400 * kMiB, 1 * kMiB);
    size_t full_parts = static_cast<size_t>(
        std::count_if(r.fetched.begin(), r.fetched.end(),
                      [](const ByteRange& f) { return f.length == 8 * kMiB; }));
    CHECK(full_parts >= 16);
  }

  TEST_CASE("a reader that stops after N bytes has had at most N + N/4 + 1 MiB fetched") {
    // (Plus the 128 KiB that a read-ahead part is aligned to.)
    for (uint64_t n : {1 * kMiB, 3 * kMiB, 8 * kMiB, 50 * kMiB, 200 * kMiB, 600 * kMiB}) {
      CAPTURE(n);
      Replay r;
      r.ReadSequentially(0, n, 128 * kKiB);
      CHECK(r.FetchedBytes() <= n + n / 4 + 1 * kMiB + 128 * kKiB);
      CHECK(r.FetchedBytes() > n);  // it did read ahead
    }
  }

  TEST_CASE("the budget caps the read-ahead; none at all when it is spent") {
    ReadaheadPolicy p{ReadaheadOptions{}};
    const uint64_t size = 1024 * kMiB;
    p.Observe(0, 128 * kKiB);
    (void)p.Ahead(128 * kKiB, size, UINT64_MAX);
    p.Observe(128 * kKiB, 128 * kKiB);
    CHECK(p.Ahead(256 * kKiB, size, 0).empty());
    p.Observe(256 * kKiB, 128 * kKiB);
    std::vector<ByteRange> ahead = p.Ahead(384 * kKiB, size, 300 * kKiB);
    // In parts of a quarter of the 1 MiB window, page-aligned, within budget.
    CHECK(ahead == std::vector<ByteRange>{{384 * kKiB, 128 * kKiB}, {512 * kKiB, 172 * kKiB}});
  }

  TEST_CASE("kernel read-ahead reordering keeps the stream sequential, fetching once") {
    Replay r(64 * kMiB);
    // Recorded from the kernel: its async read-ahead sometimes overtakes the reader.
    const uint64_t order[] = {0, 1, 3, 2, 4, 5, 7, 6, 8, 9, 11, 10};
    for (uint64_t i : order) r.Read(i * 128 * kKiB, 128 * kKiB);
    CHECK(r.sequential());
    std::vector<ByteRange> sorted = r.fetched;
    std::sort(sorted.begin(), sorted.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
    for (size_t i = 1; i < sorted.size(); ++i) CHECK(sorted[i].offset >= sorted[i - 1].end());
  }

  TEST_CASE("a jump resets the stream; a random reader's amplification is 1") {
    Replay r;
    r.ReadSequentially(0, 4 * kMiB, 128 * kKiB);
    CHECK(r.window() > 0);
    r.Read(500 * kMiB, 4096);
    CHECK_FALSE(r.sequential());
    CHECK(r.window() == 0);
    CHECK(r.fetched.back() == ByteRange{500 * kMiB, 4096});
    // sqlite-like point reads: 4 KiB pages scattered over the file.
    Replay s;
    for (uint64_t page : {0u, 91u, 7u, 20000u, 133u, 91000u, 4u, 250000u}) s.Read(page * 4096, 4096);
    CHECK(s.FetchedBytes() == 8 * 4096);  // nothing ahead
  }
}

TEST_SUITE("object stream") {
  struct Got {
    int calls = 0;
    Status status;
    std::string bytes;
    FetchDone Done() {
      return [this](const FetchResult& r, std::string&& b) {
        ++calls;
        status = r.status;
        bytes = std::move(b);
      };
    }
  };
  const auto kFar = ObjectStream::Clock::now() + std::chrono::hours(1);

  std::string Object(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
  }

  TEST_CASE("parts are filled as bytes arrive, and chunks go on aligned") {
    const std::string object = Object(100);
    std::vector<std::pair<uint64_t, std::string>> chunks;
    ObjectStream stream(100, 32, [&](uint64_t off, std::string&& b) { chunks.emplace_back(off, b); });
    Got a, b;
    REQUIRE(stream.Subscribe({10, 20}, kFar, a.Done()));
    REQUIRE(stream.Subscribe({90, 10}, kFar, b.Done()));
    for (size_t off = 0; off < 100; off += 7) {
      stream.OnData(off, std::string_view(object).substr(off, 7));
      if (off + 7 >= 30) CHECK(a.calls == 1);
    }
    stream.OnDone(FetchResult{});
    CHECK(a.bytes == object.substr(10, 20));
    CHECK(b.calls == 1);
    CHECK(b.bytes == object.substr(90, 10));
    REQUIRE(chunks.size() == 4);
    CHECK(chunks[0] == std::pair<uint64_t, std::string>{0, object.substr(0, 32)});
    CHECK(chunks[3] == std::pair<uint64_t, std::string>{96, object.substr(96)});
  }

  TEST_CASE("a part the stream has just passed is served from the chunk it keeps") {
    const std::string object = Object(100);
    ObjectStream stream(100, 32, nullptr);
    stream.OnData(0, std::string_view(object).substr(0, 40));
    Got late, gone;
    CHECK(stream.Subscribe({34, 4}, kFar, late.Done()));  // in the chunk [32, 64)
    CHECK(late.calls == 1);
    CHECK(late.bytes == object.substr(34, 4));
    CHECK_FALSE(stream.Subscribe({8, 4}, kFar, gone.Done()));  // handed on already
    CHECK(gone.calls == 0);
  }

  TEST_CASE("waiting parts get the stream's error, or EIO at their deadline") {
    ObjectStream stream(100, 32, nullptr);
    Got a, b;
    stream.Subscribe({0, 10}, ObjectStream::Clock::now() - std::chrono::seconds(1), a.Done());
    stream.Subscribe({50, 10}, kFar, b.Done());
    stream.ExpireWaits(ObjectStream::Clock::now());
    CHECK(a.calls == 1);
    CHECK(a.status.errno_value() == EIO);
    CHECK(b.calls == 0);
    stream.OnDone(FetchResult{FetchOutcome::kUrlRefused, Status::Errno(EACCES, "refused")});
    CHECK(b.calls == 1);
    CHECK(b.status.errno_value() == EACCES);
    Got c;
    CHECK_FALSE(stream.Subscribe({60, 1}, kFar, c.Done()));  // ended
  }
}

TEST_SUITE("coverage") {
  TEST_CASE("a file read in order is through at its last read, once") {
    Coverage c(10 * kMiB);
    for (uint64_t off = 0; off + 128 * kKiB < 10 * kMiB; off += 128 * kKiB) {
      CHECK_FALSE(c.Add(off, 128 * kKiB));
    }
    CHECK(c.Add(10 * kMiB - 128 * kKiB, 128 * kKiB));
    CHECK_FALSE(c.Add(0, 10 * kMiB));  // already said
  }

  TEST_CASE("reordered and overlapping reads, and a read past the end, still complete it") {
    Coverage c(1000);
    CHECK_FALSE(c.Add(500, 300));
    CHECK_FALSE(c.Add(0, 200));
    CHECK_FALSE(c.Add(900, 4096));  // the kernel asks for whole pages past the end
    CHECK_FALSE(c.Add(150, 400));
    CHECK_FALSE(c.Add(700, 150));
    CHECK(c.Add(850, 50));
  }

  TEST_CASE("a file with a gap is not through; a scattered reader is given up on") {
    Coverage gap(1000);
    CHECK_FALSE(gap.Add(0, 499));
    CHECK_FALSE(gap.Add(500, 500));
    Coverage scattered(1 << 20);
    for (uint64_t i = 0; i < 1000; ++i) CHECK_FALSE(scattered.Add(i * 1024, 512));
    CHECK(scattered.given_up());
    for (uint64_t i = 0; i < 1000; ++i) CHECK_FALSE(scattered.Add(i * 1024 + 512, 512));
    CHECK_FALSE(scattered.Add(0, 1 << 20));
    CHECK_FALSE(gap.given_up());
  }
}

TEST_SUITE("read-through log") {
  TEST_CASE("a file is through once, across opens, with what was fetched of it") {
    ReadThroughLog log(4);
    CHECK_FALSE(log.NoteRead(1, 1000, 0, 600));
    log.NoteFetched(1, 600);
    CHECK(log.NoteRead(1, 1000, 600, 400));  // a second open reads the rest
    std::optional<ReadThroughLog::Through> t = log.Finish(1);
    REQUIRE(t);
    CHECK(t->fetched_bytes == 600);
    CHECK(t->seconds >= 0);
    CHECK(log.files_read() == 1);
    CHECK_FALSE(log.NoteRead(1, 1000, 0, 1000));  // logged once per mount
    CHECK_FALSE(log.Finish(1));
    CHECK(log.files_read() == 1);
  }

  TEST_CASE("at most max_followed files: the oldest is forgotten, and never logged") {
    ReadThroughLog log(8, 2);
    CHECK_FALSE(log.NoteRead(1, 100, 0, 50));
    CHECK_FALSE(log.NoteRead(2, 100, 0, 50));
    CHECK_FALSE(log.NoteRead(3, 100, 0, 50));  // forgets 1
    CHECK(log.NoteRead(2, 100, 50, 50));
    CHECK(log.Finish(2));
    CHECK(log.NoteRead(3, 100, 50, 50));
    CHECK(log.Finish(3));
    CHECK_FALSE(log.NoteRead(1, 100, 50, 50));  // followed anew from here: 0-50 unknown
    CHECK(log.NoteRead(1, 100, 0, 50));
    CHECK(log.Finish(1));
    CHECK(log.files_read() == 3);
  }

  TEST_CASE("a scattered reader is given up on for good") {
    ReadThroughLog log(2);
    for (uint64_t i = 0; i < 1000; ++i) CHECK_FALSE(log.NoteRead(1, 1 << 20, i * 1024, 512));
    CHECK_FALSE(log.NoteRead(1, 1 << 20, 0, 1 << 20));
    CHECK_FALSE(log.Finish(1));
  }

  TEST_CASE("the line says fetched, cached, or both") {
    CHECK(ReadThroughLog::Line("/m/a", 2000, {2000, 0.25}) == "/m/a: fetched 2.0 kB in 0.2 s");
    CHECK(ReadThroughLog::Line("/m/a", 2000, {0, 1.0}) == "/m/a: cached 2.0 kB in 1.0 s");
    CHECK(ReadThroughLog::Line("/m/a", 2000, {500, 1.0}) ==
          "/m/a: fetched 500 B in 1.0 s (1.5 kB cached)");
  }

  TEST_CASE("the line says via site cache where bytes came through one") {
    CHECK(ReadThroughLog::Line("/m/a", 2000, {2000, 0.25, 2000}) ==
          "/m/a: fetched 2.0 kB in 0.2 s via site cache");
    CHECK(ReadThroughLog::Line("/m/a", 2000, {1500, 1.0, 1000}) ==
          "/m/a: fetched 1.5 kB in 1.0 s (1.0 kB via site cache) (500 B cached)");
    ReadThroughLog log(2);
    log.NoteRead(1, 3000, 0, 1000);
    log.NoteFetched(1, 2000, 2000);
    log.NoteFetched(1, 1000, 0);
    CHECK(log.NoteRead(1, 3000, 1000, 2000));
    std::optional<ReadThroughLog::Through> through = log.Finish(1);
    REQUIRE(through);
    CHECK(through->fetched_bytes == 3000);
    CHECK(through->site_cache_bytes == 2000);
  }
}

}  // namespace datumfs
