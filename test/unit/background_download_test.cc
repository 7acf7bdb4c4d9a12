// BackgroundDownload over a real Reader, with fetchers that answer at once or never and a
// block cache in memory: every file read once, in inputs.json order; cached files skipped;
// Stop() does not wait for a read the store never answers.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "datumfs/download.h"
#include "datumfs/reader.h"
#include "reader_fixtures.h"

namespace datumfs {
namespace {

constexpr uint64_t kKiB = 1024;

Tree TwoInputs() {
  Manifest m;
  m.inputs = {Input{"first", "id-1"}, Input{"second", "id-2"}};
  // Listed out of name order: the download follows inputs.json, not the directory listing.
  for (auto [input, name, size] :
       {std::tuple{0u, "c.bin", 300 * kKiB}, std::tuple{0u, "a.bin", 3 * kKiB},
        std::tuple{1u, "b.bin", 2 * kKiB + 5}}) {
    InputFile f;
    f.input_index = input;
    f.name = name;
    f.download_intent = "on-demand";
    f.storage_uri = std::string("https://store/") + name;
    f.size = size;
    m.files.push_back(f);
  }
  std::vector<std::string> warnings;
  Result<Tree> t = Tree::Build(m, {}, TreeOptions{}, &warnings);
  REQUIRE(t.has_value());
  return std::move(t).value();
}

// Fails every request for b.bin at once; answers the others with zeros.
class FailingBFetcher : public RecordingFetcher {
 public:
  void Submit(RangeRequest request, FetchDone done) override {
    Record(request);
    if (request.url.ends_with("b.bin"))
      return done(FetchResult::Of(FetchOutcome::kFailed, "503"), "");
    done(FetchResult{}, std::string(request.length, '\0'));
  }
};

NodeId InFirst(const Tree& tree, const std::string& name) {
  std::optional<NodeId> input = tree.Lookup(Tree::kRoot, "first");
  REQUIRE(input.has_value());
  std::optional<NodeId> node = tree.Lookup(*input, name);
  REQUIRE(node.has_value());
  return *node;
}

DownloadOptions OneAtATime() {
  DownloadOptions o;
  o.files_at_once = 1;
  o.read_size = 64 * kKiB;
  return o;
}

bool WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

TEST_SUITE("background download") {
  TEST_CASE("inputs are chosen by name, or all; an unknown name is an error naming it") {
    Tree tree = TwoInputs();
    CHECK(ChooseInputs(tree, "all").value() == std::vector<uint32_t>{0, 1});
    CHECK(ChooseInputs(tree, "second,first,second").value() == std::vector<uint32_t>{1, 0});
    Result<std::vector<uint32_t>> bad = ChooseInputs(tree, "first,third");
    REQUIRE(!bad);
    CHECK(bad.error().message().find("no input named \"third\" (its inputs: first, second)") !=
          std::string::npos);
    CHECK(!ChooseInputs(tree, ","));
  }

  TEST_CASE("every file of the chosen inputs is read into the cache once, in inputs.json order") {
    Tree tree = TwoInputs();
    AnsweringFetcher fetcher;
    MemoryCache cache;
    Reader reader(tree, fetcher, &cache, nullptr, ReaderOptions{});
    {
      BackgroundDownload download(tree, reader, {0}, OneAtATime());
      download.Start();
      REQUIRE(WaitUntil([&] { return download.progress().files_done == 2; }));
      DownloadProgress p = download.progress();
      CHECK(p.bytes_total == 303 * kKiB);
      CHECK(p.bytes_done == p.bytes_total);
      CHECK(p.files_total == 2);
      CHECK(p.files_failed == 0);
      CHECK(p.eta_seconds == 0);
    }
    reader.Stop();
    // c.bin first (it is listed first), then a.bin; the second input not at all.
    const NodeId c = InFirst(tree, "c.bin"), a = InFirst(tree, "a.bin");
    CHECK(reader.CachedBytes(c) == 300 * kKiB);
    CHECK(reader.CachedBytes(a) == 3 * kKiB);
    std::vector<ByteRange> asked = fetcher.ranges();
    REQUIRE(!asked.empty());
    uint64_t sum = 0;
    for (const ByteRange& r : asked) sum += r.length;
    CHECK(sum == 303 * kKiB);  // nothing twice
    CHECK(fetcher.request(0).url == "https://store/c.bin");
    CHECK(fetcher.request(fetcher.count() - 1).url == "https://store/a.bin");
  }

  TEST_CASE("files the cache holds are not fetched again") {
    Tree tree = TwoInputs();
    AnsweringFetcher fetcher;
    MemoryCache cache;
    Reader reader(tree, fetcher, &cache, nullptr, ReaderOptions{});
    const NodeId c = InFirst(tree, "c.bin");
    cache.Insert(BlockCache::KeyFor("", "https://store/c.bin", 300 * kKiB), 0,
                 std::string(300 * kKiB, 'c'));
    REQUIRE(reader.CachedBytes(c) == 300 * kKiB);
    {
      BackgroundDownload download(tree, reader, {0}, OneAtATime());
      download.Start();
      REQUIRE(WaitUntil([&] { return download.progress().files_done == 2; }));
      CHECK(download.progress().bytes_done == 303 * kKiB);
    }
    reader.Stop();
    for (size_t i = 0; i < fetcher.count(); ++i) {
      CHECK(fetcher.request(i).url == "https://store/a.bin");
    }
  }

  TEST_CASE("a file whose reads keep failing is given up: the download ends, its ETA is 0") {
    Tree tree = TwoInputs();
    FailingBFetcher fetcher;
    Reader reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    DownloadOptions options = OneAtATime();
    options.attempts = 2;
    options.pause = std::chrono::milliseconds(1);
    {
      BackgroundDownload download(tree, reader, {0, 1}, options);
      download.Start();
      REQUIRE(WaitUntil([&] { return download.progress().files_failed == 1; }));
      DownloadProgress p = download.progress();
      CHECK(p.files_done == 2);
      CHECK(p.bytes_done == 303 * kKiB);
      CHECK(p.bytes_done < p.bytes_total);
      CHECK(p.eta_seconds == 0);  // nothing left to wait for
    }
    reader.Stop();
  }

  TEST_CASE("Stop does not wait for a read the store never answers") {
    Tree tree = TwoInputs();
    ManualFetcher fetcher;  // answers nothing
    Reader reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    BackgroundDownload download(tree, reader, {0, 1}, OneAtATime());
    download.Start();
    REQUIRE(WaitUntil([&] { return fetcher.count() > 0; }));
    const auto t0 = std::chrono::steady_clock::now();
    download.Stop();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(download.progress().files_done == 0);
    CHECK(download.progress().files_failed == 0);  // stopped, not failed: resumed next time
    reader.Stop();
  }
}

}  // namespace datumfs
