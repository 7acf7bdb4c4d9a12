// CacheWriter against a real block cache (LMDB index, data files in a temporary directory),
// watched through a wrapper that records the calls.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "datumfs/cache.h"
#include "datumfs/tree.h"
#include "reader/cache_writer.h"
#include "reader/open_file.h"
#include "reader_fixtures.h"
#include "testutil.h"

namespace datumfs {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kSize = 3 * kMiB;  // each file: kSize bytes of 'x'
// sha256 of kSize bytes of 'x'.
const char* const kRightSum = "3BEA8A9A07C1E8DCAA4C1B816815C35A29B4FB585BA6ECC70EA44840A794CFB3";

// Forwards to a real cache; counts inserts, releases and reads.
class RecordingCache : public BlockCache {
 public:
  explicit RecordingCache(std::unique_ptr<BlockCache> real) : real_(std::move(real)) {}
  std::optional<std::string> Read(std::string_view key, ByteRange range) override {
    ++reads;
    return real_->Read(key, range);
  }
  std::unique_ptr<PinnedBytes> Pin(std::string_view key, ByteRange range) override {
    return real_->Pin(key, range);
  }
  std::vector<ByteRange> Missing(std::string_view key, ByteRange range) override {
    return real_->Missing(key, range);
  }
  void Insert(std::string_view key, uint64_t offset, std::string_view bytes) override {
    real_->Insert(key, offset, bytes);
  }
  void InsertAndRelease(std::string_view key, uint64_t offset, std::string_view bytes,
                        const std::vector<ByteRange>& release) override {
    inserts.push_back(ByteRange{offset, bytes.size()});
    releases.push_back(release);
    real_->InsertAndRelease(key, offset, bytes, release);
  }
  void DropObject(std::string_view key) override {
    ++drops;
    real_->DropObject(key);
  }
  bool Claim(std::string_view key, const std::vector<ByteRange>& ranges,
             uint64_t ttl_seconds) override {
    return real_->Claim(key, ranges, ttl_seconds);
  }
  void Release(std::string_view key, const std::vector<ByteRange>& ranges) override {
    real_->Release(key, ranges);
  }
  Status Evict(bool all) override { return real_->Evict(all); }
  uint64_t TotalBytes() override { return real_->TotalBytes(); }
  Result<std::vector<ObjectSummary>> List() override { return real_->List(); }
  Result<VerifyReport> Verify() override { return real_->Verify(); }
  CacheCounters counters() const override { return real_->counters(); }

  std::atomic<int> reads{0}, drops{0};
  std::vector<ByteRange> inserts;
  std::vector<std::vector<ByteRange>> releases;

 private:
  std::unique_ptr<BlockCache> real_;
};

// "right.bin" (its sha256 in inputs.json), "wrong.bin" (another sum), "none.bin" (no sum).
Tree MakeTree() {
  return RemoteTree({{"right.bin", kSize, kRightSum},
                     {"wrong.bin", kSize, std::string(64, '0')},
                     {"none.bin", kSize, ""}});
}

struct Fixture {
  Fixture() : tree(MakeTree()) {
    CacheOptions o;
    o.dir = dir.path();
    o.min_free = SizeOrPercent{};
    Result<std::unique_ptr<BlockCache>> real = BlockCache::Open(o);
    REQUIRE(real.has_value());
    cache = std::make_unique<RecordingCache>(std::move(real).value());
  }
  NodeId Node(const std::string& name) const { return FileNode(tree, name); }
  std::string Key(NodeId node) const {
    RemoteFileInfo info = tree.remote(node);
    return BlockCache::KeyFor(info.datum_id, info.url, tree.size(node));
  }
  // A ready range of 'x' bytes.
  std::shared_ptr<const Range> Bytes(ByteRange r) {
    auto range = std::make_shared<Range>(r, budget);
    range->data.assign(r.length, 'x');
    return range;
  }
  void Write(CacheWriter& writer, const std::string& name, ByteRange r,
             std::vector<ByteRange> parts, bool release = false) {
    NodeId node = Node(name);
    writer.Write(node, Key(node), Bytes(r), std::move(parts), release);
  }
  bool Whole(const std::string& name) {
    return cache->Missing(Key(Node(name)), ByteRange{0, kSize}).empty();
  }

  ScopedTempDir dir;
  Tree tree;
  std::unique_ptr<RecordingCache> cache;
  std::shared_ptr<ByteBudget> budget = std::make_shared<ByteBudget>(UINT64_MAX);
};

}  // namespace

TEST_SUITE("cache writer") {
  TEST_CASE("parts go in in order, and the claims end with the last part's bytes") {
    Fixture f;
    CacheWriter writer(f.tree, *f.cache, "/mnt");
    std::vector<ByteRange> parts{{0, kMiB}, {2 * kMiB, 512 * 1024}};
    f.Write(writer, "none.bin", ByteRange{0, 3 * kMiB}, parts, /*release=*/true);
    f.Write(writer, "none.bin", ByteRange{kMiB, kMiB}, {{kMiB, kMiB}});
    writer.Stop();  // writes what is queued
    REQUIRE(f.cache->inserts == std::vector<ByteRange>{parts[0], parts[1], {kMiB, kMiB}});
    CHECK(f.cache->releases[0].empty());
    CHECK(f.cache->releases[1] == parts);
    CHECK(f.cache->releases[2].empty());  // not asked to
    CHECK(f.cache->Missing(f.Key(f.Node("none.bin")), ByteRange{0, kSize}) ==
          std::vector<ByteRange>{{2 * kMiB + 512 * 1024, 512 * 1024}});
    CHECK(f.cache->drops == 0);
  }

  TEST_CASE("a file whose bytes match its checksum is kept, checked once") {
    Fixture f;
    CacheWriter writer(f.tree, *f.cache, "/mnt");
    f.Write(writer, "right.bin", ByteRange{kMiB, 2 * kMiB}, {{kMiB, 2 * kMiB}});
    f.Write(writer, "right.bin", ByteRange{0, kMiB}, {{0, kMiB}});  // now whole: checked
    REQUIRE(Eventually([&] { return f.cache->reads == 1; }));  // on the checks' queue
    f.Write(writer, "right.bin", ByteRange{0, kMiB}, {{0, kMiB}});  // again: no second check
    std::promise<void> written;
    writer.AfterWrites([&] { written.set_value(); });
    written.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // time for a wrong one
    CHECK(f.cache->reads == 1);  // 3 MiB: one read of the whole file
    CHECK(f.cache->drops == 0);
    CHECK(f.Whole("right.bin"));
  }

  TEST_CASE("a file whose bytes do not match its checksum is dropped once whole") {
    Fixture f;
    {
      CacheWriter writer(f.tree, *f.cache, "/mnt");
      f.Write(writer, "wrong.bin", ByteRange{0, 2 * kMiB}, {{0, 2 * kMiB}});
      writer.AfterWrites([&] { CHECK(f.Whole("wrong.bin") == false); });
      f.Write(writer, "wrong.bin", ByteRange{2 * kMiB, kMiB}, {{2 * kMiB, kMiB}});
      CHECK(Eventually([&] { return f.cache->drops == 1; }));
    }
    CHECK(f.cache->drops == 1);
    CHECK(f.cache->Missing(f.Key(f.Node("wrong.bin")), ByteRange{0, kSize}) ==
          std::vector<ByteRange>{{0, kSize}});
  }

  TEST_CASE("files without a checksum are never read back") {
    Fixture f;
    {
      CacheWriter writer(f.tree, *f.cache, "/mnt");
      f.Write(writer, "none.bin", ByteRange{0, kSize}, {{0, kSize}});
    }
    CHECK(f.Whole("none.bin"));
    CHECK(f.cache->reads == 0);
    CHECK(f.cache->drops == 0);
  }

  TEST_CASE("after Stop, writes run at once on the caller's thread") {
    Fixture f;
    CacheWriter writer(f.tree, *f.cache, "/mnt");
    writer.Stop();
    f.Write(writer, "none.bin", ByteRange{0, kSize}, {{0, kSize}});
    CHECK(f.Whole("none.bin"));
  }
}

}  // namespace datumfs
