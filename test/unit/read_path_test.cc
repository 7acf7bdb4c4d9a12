// ReadPath with a Fetcher the test answers by hand: reads that share a fetch, replies that
// arrive after the file was closed, reads answered from the cache's file.
#include "reader/read_path.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "reader/open_file.h"
#include "reader_fixtures.h"

namespace datumfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kSize = 64 * kMiB;

struct Got {
  int calls = 0;
  Status status;
  std::string bytes;
};

ReadDone Into(Got& got) {
  return [&got](const Status& status, std::string_view bytes) {
    ++got.calls;
    got.status = status;
    got.bytes = std::string(bytes);
  };
}

// Records what a read answered from the cache's file, as the FUSE adapter would splice it.
struct FromFile {
  int calls = 0;
  std::string bytes;
  ReadFromFile Take() {
    return [this](const CacheFileBytes& b) {
      ++calls;
      bytes.assign(b.size, '\0');
      REQUIRE(pread(b.fd, bytes.data(), b.size, static_cast<off_t>(b.offset)) ==
              static_cast<ssize_t>(b.size));
    };
  }
};

}  // namespace

TEST_SUITE("read path") {
  TEST_CASE(
      "a read the cache holds is answered from its file; one in memory or not cached is not") {
    const uint64_t size = 4 * kMiB;
    Tree tree = RemoteTree({{"f.bin", size, ""}});
    const std::string content = PatternBytes(size);
    ManualFetcher fetcher;
    MemoryCache cache;
    const NodeId node = FileNode(tree, "f.bin");
    const std::string key =
        BlockCache::KeyFor(tree.remote(node).datum_id, tree.remote(node).url, size);
    cache.Insert(key, 0, std::string_view(content).substr(0, 2 * kMiB));
    ReadPath reader(tree, fetcher, &cache, nullptr, ReaderOptions{});
    std::shared_ptr<OpenFile> file = reader.Open(node, false);
    FromFile spliced;
    Got warm;
    reader.Read(file, 1000, 300000, Into(warm), spliced.Take());
    CHECK(warm.calls == 0);
    CHECK(spliced.calls == 1);
    CHECK(spliced.bytes == content.substr(1000, 300000));
    CHECK(fetcher.count() == 0);
    CHECK(cache.pins() == 1);
    CHECK(reader.counters().reads_from_cache_file == 1);
    CHECK(reader.counters().bytes_read == 300000);

    Got cold;  // half cached: fetched, into memory
    reader.Read(file, 2 * kMiB - 4096, 8192, Into(cold), spliced.Take());
    REQUIRE(fetcher.count() >= 1);
    for (size_t r = 0; r < fetcher.count(); ++r) fetcher.Answer(r, FetchResult{}, content);
    CHECK(cold.calls == 1);
    CHECK(cold.bytes == content.substr(2 * kMiB - 4096, 8192));
    Got memory;  // inside the range just fetched, which memory holds
    reader.Read(file, 2 * kMiB - 4096, 4096, Into(memory), spliced.Take());
    CHECK(memory.calls == 1);
    CHECK(memory.bytes == content.substr(2 * kMiB - 4096, 4096));
    CHECK(spliced.calls == 1);
    CHECK(reader.counters().reads_from_cache_file == 1);
    reader.Stop();
  }

  TEST_CASE("reads inside a range being fetched wait for it: one request, every reply right") {
    Tree tree = RemoteTree({{"f.bin", kSize, ""}});
    const std::string content = PatternBytes(kSize);
    ManualFetcher fetcher;
    ReadPath reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    std::shared_ptr<OpenFile> a = reader.Open(FileNode(tree, "f.bin"), false);
    std::shared_ptr<OpenFile> b = reader.Open(FileNode(tree, "f.bin"), false);
    Got first, second, third;
    reader.Read(a, 10 * kMiB, 4096, Into(first));
    const size_t requests = fetcher.count();
    REQUIRE(requests == 1);  // a random read: its pages, nothing ahead
    reader.Read(a, 10 * kMiB + 100, 1000, Into(second));  // the same range, same handle
    CHECK(fetcher.count() == requests);
    reader.Read(b, 10 * kMiB, 4096, Into(third));  // another handle fetches for itself
    CHECK(fetcher.count() == requests + 1);
    CHECK(first.calls + second.calls == 0);
    fetcher.Answer(0, FetchResult{}, content);
    fetcher.Answer(1, FetchResult{}, content);
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(third.calls == 1);
    CHECK(first.bytes == content.substr(10 * kMiB, 4096));
    CHECK(second.bytes == content.substr(10 * kMiB + 100, 1000));
    CHECK(third.bytes == first.bytes);
  }

  TEST_CASE("a reply after the file was closed still reaches its read, and nothing else") {
    Tree tree = RemoteTree({{"f.bin", kSize, ""}});
    const std::string content = PatternBytes(kSize);
    ManualFetcher fetcher;
    ReadPath reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    Got got;
    {
      std::shared_ptr<OpenFile> file = reader.Open(FileNode(tree, "f.bin"), false);
      reader.Read(file, 0, 128 * 1024, Into(got));
    }  // released: only the fetch holds the file now
    REQUIRE(fetcher.count() >= 1);
    for (size_t i = 0; i < fetcher.count(); ++i) fetcher.Answer(i, FetchResult{}, content);
    CHECK(got.calls == 1);
    CHECK(got.status.ok());
    CHECK(got.bytes == content.substr(0, 128 * 1024));
  }

  TEST_CASE("a failed fetch fails every read waiting on it with EIO, once") {
    Tree tree = RemoteTree({{"f.bin", kSize, ""}});
    ManualFetcher fetcher;
    ReadPath reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    std::shared_ptr<OpenFile> file = reader.Open(FileNode(tree, "f.bin"), false);
    Got first, second;
    reader.Read(file, 20 * kMiB, 4096, Into(first));
    reader.Read(file, 20 * kMiB, 100, Into(second));
    REQUIRE(fetcher.count() == 1);
    fetcher.Answer(0, FetchResult::Of(FetchOutcome::kFailed, "reset"));
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(first.status.errno_value() == EIO);
    CHECK(second.status.errno_value() == EIO);
    CHECK(reader.counters().read_errors == 2);
  }

  TEST_CASE("files opened in order: the next ones are fetched whole before they are opened") {
    std::vector<RemoteFile> files;
    for (int i = 0; i < 10; ++i) files.push_back({"f" + std::to_string(i) + ".bin", 5000, ""});
    Tree tree = RemoteTree(files);
    const std::string content = PatternBytes(5000);
    ManualFetcher fetcher;
    ReadPath reader(tree, fetcher, nullptr, nullptr, ReaderOptions{});
    auto url = [](int i) { return "https://store/f" + std::to_string(i) + ".bin?sig=s"; };
    auto asked = [&](int i) {  // requests for file i
      int n = 0;
      for (size_t r = 0; r < fetcher.count(); ++r) n += fetcher.request(r).url == url(i);
      return n;
    };
    auto open_and_read = [&](int i, Got& got) {
      std::shared_ptr<OpenFile> f =
          reader.Open(FileNode(tree, "f" + std::to_string(i) + ".bin"), false);
      reader.Read(f, 0, 5000, Into(got));
    };
    Got first[3];
    for (int i = 0; i < 3; ++i) open_and_read(i, first[i]);
    // The third open made a walk: files 3-6 are asked for, whole, before anyone opens them.
    CHECK(fetcher.count() == 3 + 4);
    for (int i = 3; i < 7; ++i) CHECK(asked(i) == 1);
    CHECK(asked(7) == 0);
    for (size_t r = 0; r < fetcher.count(); ++r) {
      CHECK(fetcher.request(r).offset == 0);
      CHECK(fetcher.request(r).length == 5000);
      fetcher.Answer(r, FetchResult{}, content);
    }
    for (const Got& got : first) CHECK(got.bytes == content);
    Got fourth;
    open_and_read(3, fourth);  // answered from memory: no request of its own
    CHECK(fourth.calls == 1);
    CHECK(fourth.bytes == content);
    CHECK(asked(3) == 1);
    CHECK(asked(7) == 1);  // and the walk goes on
    reader.Stop();
  }
}

}  // namespace datumfs
