// StoreFetcher with a Fetcher the test answers by hand: what it asks the store for, and what
// each part's caller gets.
#include <doctest/doctest.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reader/open_file.h"
#include "reader/store_fetcher.h"
#include "reader_fixtures.h"

namespace datumfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

struct Got {
  std::optional<Status> status;
  std::optional<FetchOutcome> outcome;
  std::string bytes;
  int calls = 0;
};

// URLs "<inputs.json URL>&v=N": each refusal of the newest one makes the next N.
class FakeUrls : public UrlSource {
 public:
  void Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) override {
    std::string newest = Newest(file);
    if (refused_url) {
      ++refusals;
      if (*refused_url == newest) newest = file.url + "&v=" + std::to_string(++version);
    }
    done(Status(), newest);
  }
  std::string Newest(const FileUrl& file) const {
    return version == 0 ? file.url : file.url + "&v=" + std::to_string(version);
  }
  int version = 0;
  int refusals = 0;  // Resolve calls that said the URL was refused
};

struct Fixture {
  explicit Fixture(uint64_t size = 4 * kMiB, UrlSource* urls = nullptr)
      : tree(RemoteTree({{"f.bin", size, ""}})),
        content(PatternBytes(size)),
        store(tree, fetcher, urls, nullptr, nullptr, std::make_shared<ByteBudget>(1 << 30),
              StoreFetcherOptions{kMiB, std::chrono::milliseconds(30000), "/mnt"},
              [this] { ++streams_started; }),
        file(std::make_shared<OpenFile>(FileNode(tree, "f.bin"), "key", ReadaheadOptions{},
                                        false)) {}

  void Fetch(ByteRange range, Got& got) {
    StorePart part{file, range, std::chrono::steady_clock::now() + std::chrono::seconds(30)};
    store.Fetch(part, [&got](const FetchResult& result, std::string&& bytes) {
      got.status = result.status;
      got.outcome = result.outcome;
      got.bytes = std::move(bytes);
      ++got.calls;
    });
  }

  Tree tree;
  std::string content;
  ManualFetcher fetcher;
  int streams_started = 0;
  StoreFetcher store;
  std::shared_ptr<OpenFile> file;
};

// Fetches the first MiB; the store refuses the URL: one refresh, a second request with it.
void FetchRefusedOnce(Fixture& f, const FakeUrls& urls, Got& got) {
  f.Fetch(ByteRange{0, kMiB}, got);
  f.fetcher.Answer(0, FetchResult::Of(FetchOutcome::kUrlRefused, "403"));
  CHECK(urls.refusals == 1);
  REQUIRE(f.fetcher.count() == 2);
  CHECK(f.fetcher.request(1).url == "https://store/f.bin?sig=s&v=1");
  CHECK(got.calls == 0);
}

}  // namespace

TEST_SUITE("store fetcher") {
  TEST_CASE("a part is one ranged request with the file's URL, and its bytes") {
    Fixture f;
    Got got;
    f.Fetch(ByteRange{kMiB, 2 * kMiB}, got);
    REQUIRE(f.fetcher.count() == 1);
    const RangeRequest r = f.fetcher.request(0);
    CHECK(r.url == "https://store/f.bin?sig=s");
    CHECK(r.offset == kMiB);
    CHECK(r.length == 2 * kMiB);
    CHECK(r.object_size == 4 * kMiB);
    CHECK_FALSE(r.whole_body_ok);
    f.fetcher.Answer(0, FetchResult{}, f.content);
    CHECK(got.calls == 1);
    CHECK(got.status->ok());
    CHECK(got.bytes == f.content.substr(kMiB, 2 * kMiB));
  }

  TEST_CASE("a refused URL with no refresher fails the part once, as refused") {
    Fixture f;
    Got got;
    f.Fetch(ByteRange{0, kMiB}, got);
    f.fetcher.Answer(0, FetchResult::Of(FetchOutcome::kUrlRefused, "403"));
    CHECK(f.fetcher.count() == 1);  // nothing to retry with
    CHECK(got.calls == 1);
    CHECK(got.outcome == FetchOutcome::kUrlRefused);
  }

  TEST_CASE("a refused URL is refreshed once and the part fetched again with the new one") {
    FakeUrls urls;
    Fixture f(4 * kMiB, &urls);
    Got got;
    FetchRefusedOnce(f, urls, got);
    f.fetcher.Answer(1, FetchResult{}, f.content);
    CHECK(got.calls == 1);
    CHECK(got.outcome == FetchOutcome::kOk);
    CHECK(got.bytes == f.content.substr(0, kMiB));
  }

  TEST_CASE("a fresh URL refused too fails the part: no second refresh, no third request") {
    FakeUrls urls;
    Fixture f(4 * kMiB, &urls);
    Got got;
    FetchRefusedOnce(f, urls, got);
    f.fetcher.Answer(1, FetchResult::Of(FetchOutcome::kUrlRefused, "403 again"));
    CHECK(urls.refusals == 1);
    CHECK(f.fetcher.count() == 2);
    CHECK(got.calls == 1);
    CHECK(got.outcome == FetchOutcome::kUrlRefused);
    // Another failure is not a reason to refresh.
    Got other;
    f.Fetch(ByteRange{kMiB, kMiB}, other);
    REQUIRE(f.fetcher.count() == 3);
    CHECK(f.fetcher.request(2).url == "https://store/f.bin?sig=s&v=1");
    f.fetcher.Answer(2, FetchResult::Of(FetchOutcome::kFailed, "503"));
    CHECK(urls.refusals == 1);
    CHECK(f.fetcher.count() == 3);
    CHECK(other.outcome == FetchOutcome::kFailed);
  }

  TEST_CASE("a server that ignores Range: one whole-object download serves every part") {
    Fixture f;
    Got first, second, third;
    f.Fetch(ByteRange{0, kMiB}, first);
    f.fetcher.Answer(0, FetchResult::Of(FetchOutcome::kNoRanges, "200 without Range"));
    REQUIRE(f.fetcher.count() == 2);  // the whole object, from its start
    const RangeRequest whole = f.fetcher.request(1);
    CHECK(whole.offset == 0);
    CHECK(whole.length == 4 * kMiB);
    CHECK(whole.whole_body_ok);
    CHECK(f.streams_started == 1);
    CHECK(f.store.IgnoresRange(f.file->node_));
    CHECK(f.store.AnyStreams());
    f.Fetch(ByteRange{2 * kMiB, kMiB}, second);  // joins the download: no request of its own
    f.Fetch(ByteRange{3 * kMiB + 5, 100}, third);
    CHECK(f.fetcher.count() == 2);
    f.fetcher.Answer(1, FetchResult{}, f.content);
    CHECK(first.calls == 1);
    CHECK(first.bytes == f.content.substr(0, kMiB));
    CHECK(second.bytes == f.content.substr(2 * kMiB, kMiB));
    CHECK(third.bytes == f.content.substr(3 * kMiB + 5, 100));
    CHECK(second.status->ok());
    CHECK_FALSE(f.store.AnyStreams());
    CHECK(f.streams_started == 1);
  }

  TEST_CASE("parts waiting on a failed whole-object download get its error") {
    Fixture f;
    Got first, second;
    f.Fetch(ByteRange{0, kMiB}, first);
    f.fetcher.Answer(0, FetchResult::Of(FetchOutcome::kNoRanges, "200 without Range"));
    f.Fetch(ByteRange{2 * kMiB, kMiB}, second);
    f.fetcher.Answer(1, FetchResult::Of(FetchOutcome::kFailed, "connection reset"));
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(first.status->errno_value() == EIO);
    CHECK(second.status->errno_value() == EIO);
    CHECK_FALSE(f.store.AnyStreams());
  }
}

}  // namespace datumfs
