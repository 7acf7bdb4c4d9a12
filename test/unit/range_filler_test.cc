// RangeFiller with an in-memory cache and a Fetcher the test answers by hand: what is read
// from the cache, what is claimed and fetched, and what is waited for.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "reader/cache_writer.h"
#include "reader/open_file.h"
#include "reader/range_filler.h"
#include "reader/store_fetcher.h"
#include "reader_fixtures.h"

namespace datumfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kSize = 4 * kMiB;

// What the filler replied for one range.
struct Reply {
  Mutex mu;
  int calls GUARDED_BY(mu) = 0;
  Status status GUARDED_BY(mu);
  std::string bytes GUARDED_BY(mu);
  int Calls() {
    MutexLock lock(&mu);
    return calls;
  }
};

struct Fixture {
  explicit Fixture(std::chrono::milliseconds timeout = std::chrono::milliseconds(30000))
      : tree(RemoteTree({{"f.bin", kSize, ""}})),
        content(PatternBytes(kSize)),
        writer(tree, cache, "/mnt"),
        budget(std::make_shared<ByteBudget>(1 << 30)),
        store(tree, fetcher, nullptr, &cache, &writer, budget,
              StoreFetcherOptions{8 * kMiB, timeout, "/mnt"}, [this] { filler->WakeWaiter(); }),
        file(std::make_shared<OpenFile>(FileNode(tree, "f.bin"), "key", ReadaheadOptions{},
                                        false)),
        timeout(timeout) {
    filler = std::make_unique<RangeFiller>(
        &cache, &writer, store, timeout,
        [this](const std::shared_ptr<OpenFile>& open, const std::shared_ptr<Range>& range,
               const FetchResult& result, std::string&& bytes) {
          Reply& r = replies.at(range->range.offset);
          MutexLock lock(&r.mu);
          ++r.calls;
          r.status = result.status;
          r.bytes = bytes;
          MutexLock file_lock(&open->mu_);  // as ReadPath::Complete publishes them
          if (result.ok()) (void)open->Publish(range, std::move(bytes));
        },
        [this](NodeId, uint64_t bytes, uint64_t) { fetched += bytes; });
  }
  ~Fixture() {
    filler->Stop();
    writer.Stop();
  }

  void Fill(ByteRange r) {
    replies.try_emplace(r.offset);
    filler->Fill(file, std::make_shared<Range>(r, budget), std::chrono::steady_clock::now() + timeout);
  }
  void Cache(ByteRange r) { cache.Insert("key", r.offset, std::string_view(content).substr(r.offset, r.length)); }
  void WaitForWrites() {
    std::atomic<bool> done{false};
    writer.AfterWrites([&] { done = true; });
    REQUIRE(Eventually([&] { return done.load(); }));
  }
  // The reply to the range at `offset` is its bytes.
  void CheckReplied(ByteRange r) {
    Reply& reply = replies.at(r.offset);
    REQUIRE(Eventually([&] { return reply.Calls() == 1; }));
    MutexLock lock(&reply.mu);
    CHECK(reply.status.ok());
    CHECK(reply.bytes == content.substr(r.offset, r.length));
  }

  Tree tree;
  std::string content;
  MemoryCache cache;
  ManualFetcher fetcher;
  CacheWriter writer;
  std::shared_ptr<ByteBudget> budget;
  std::unique_ptr<RangeFiller> filler;
  StoreFetcher store;
  std::shared_ptr<OpenFile> file;
  std::chrono::milliseconds timeout;
  std::map<uint64_t, Reply> replies;  // by range offset; entries made before the fill starts
  std::atomic<uint64_t> fetched{0};
};

}  // namespace

TEST_SUITE("range filler") {
  TEST_CASE("a cached range is served from the cache, with nothing claimed or fetched") {
    Fixture f;
    f.Cache(ByteRange{0, kSize});
    f.Fill(ByteRange{kMiB, kMiB});
    f.CheckReplied(ByteRange{kMiB, kMiB});
    CHECK(f.fetcher.count() == 0);
  }

  TEST_CASE("a missing range is claimed, fetched once, replied, then cached and released") {
    Fixture f;
    f.Fill(ByteRange{0, 2 * kMiB});
    REQUIRE(f.fetcher.count() == 1);
    CHECK(f.cache.Claims("key") == std::vector<ByteRange>{{0, 2 * kMiB}});
    f.fetcher.Answer(0, FetchResult{}, f.content);
    f.CheckReplied(ByteRange{0, 2 * kMiB});
    f.WaitForWrites();
    CHECK(f.cache.Missing("key", ByteRange{0, 2 * kMiB}).empty());
    CHECK(f.cache.Claims("key").empty());
    CHECK(f.fetched == 2 * kMiB);
  }

  TEST_CASE("a partly cached range fetches only the gaps, close ones as one request") {
    Fixture f;
    f.Cache(ByteRange{0, kMiB});
    f.Cache(ByteRange{kMiB + 4096, 8192});       // a gap of 4 KiB before it: coalesced
    f.Cache(ByteRange{3 * kMiB, kMiB});
    f.Fill(ByteRange{0, kSize});
    REQUIRE(f.fetcher.count() == 1);
    CHECK(f.fetcher.request(0).offset == kMiB);
    CHECK(f.fetcher.request(0).length == 2 * kMiB);
    f.fetcher.Answer(0, FetchResult{}, f.content);
    f.CheckReplied(ByteRange{0, kSize});
  }

  TEST_CASE("a range another process claimed is waited for, then read from the cache") {
    Fixture f;
    f.cache.OthersClaim("key", true);
    f.Fill(ByteRange{0, kMiB});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(f.fetcher.count() == 0);
    CHECK(f.replies.at(0).Calls() == 0);
    f.Cache(ByteRange{0, kMiB});  // the other process's bytes arrive, then its claim goes
    f.cache.OthersClaim("key", false);
    f.CheckReplied(ByteRange{0, kMiB});
    CHECK(f.fetcher.count() == 0);
  }

  TEST_CASE("a claim that is never released: fetched here after half the read's time") {
    Fixture f(std::chrono::milliseconds(400));
    f.cache.OthersClaim("key", true);
    const auto start = std::chrono::steady_clock::now();
    f.Fill(ByteRange{0, kMiB});
    REQUIRE(Eventually([&] { return f.fetcher.count() == 1; }));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
    f.fetcher.Answer(0, FetchResult{}, f.content);
    f.CheckReplied(ByteRange{0, kMiB});
  }

  TEST_CASE("a failed fetch fails the range and releases its claims") {
    Fixture f;
    f.Fill(ByteRange{0, kMiB});
    f.fetcher.Answer(0, FetchResult::Of(FetchOutcome::kFailed, "reset"));
    Reply& reply = f.replies.at(0);
    REQUIRE(Eventually([&] { return reply.Calls() == 1; }));
    {
      MutexLock lock(&reply.mu);
      CHECK(reply.status.errno_value() == EIO);
    }
    CHECK(f.cache.Claims("key").empty());
    CHECK(f.cache.Missing("key", ByteRange{0, kMiB}) == std::vector<ByteRange>{{0, kMiB}});
  }

  TEST_CASE("Stop fails ranges waiting for another process with ECANCELED") {
    Fixture f;
    f.cache.OthersClaim("key", true);
    f.Fill(ByteRange{0, kMiB});
    f.filler->Stop();
    Reply& reply = f.replies.at(0);
    REQUIRE(reply.Calls() == 1);
    MutexLock lock(&reply.mu);
    CHECK(reply.status.errno_value() == ECANCELED);
    CHECK(f.fetcher.count() == 0);
  }
}

}  // namespace datumfs
