// ReadPath without a cache, with a Fetcher the test answers by hand: reads that share a fetch,
// and replies that arrive after the file was closed.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "reader/open_file.h"
#include "reader/read_path.h"
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

}  // namespace

TEST_SUITE("read path") {
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
    fetcher.Answer(0, Failure(FetchOutcome::kFailed, "reset"));
    CHECK(first.calls == 1);
    CHECK(second.calls == 1);
    CHECK(first.status.errno_value() == EIO);
    CHECK(second.status.errno_value() == EIO);
    CHECK(reader.counters().read_errors == 2);
  }
}

}  // namespace datumfs
