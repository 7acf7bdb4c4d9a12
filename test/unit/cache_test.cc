#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "cache/data_file.h"
#include "cache/extents.h"
#include "cache/lmdb_index.h"
#include "cache/verified_set.h"
#include "datumfs/cache.h"
#include "testutil.h"

namespace datumfs {
namespace {

std::string Bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::unique_ptr<BlockCache> OpenCache(const std::string& dir, uint64_t max_bytes = 0) {
  CacheOptions o;
  o.dir = dir;
  o.max_bytes = max_bytes;
  o.min_free = SizeOrPercent{};  // 0 bytes: only max_bytes limits these tests
  o.max_extent = 64 * 1024;
  Result<std::unique_ptr<BlockCache>> c = BlockCache::Open(o);
  REQUIRE(c.has_value());
  return std::move(c).value();
}

}  // namespace

TEST_SUITE("cache") {
  TEST_CASE("missing ranges are the gaps between cached ones") {
    std::vector<ByteRange> have = {{0, 10}, {20, 10}, {40, 10}};
    CHECK(MissingRanges(have, {0, 50}) == std::vector<ByteRange>{{10, 10}, {30, 10}});
    CHECK(MissingRanges(have, {5, 10}) == std::vector<ByteRange>{{10, 5}});
    CHECK(MissingRanges(have, {0, 10}).empty());
    CHECK(MissingRanges(have, {45, 20}) == std::vector<ByteRange>{{50, 15}});
    CHECK(MissingRanges({}, {7, 3}) == std::vector<ByteRange>{{7, 3}});
    CHECK(MissingRanges(have, {12, 5}) == std::vector<ByteRange>{{12, 5}});
    CHECK(MissingRanges({{0, 100}}, {10, 10}).empty());
  }

  TEST_CASE("ranges are split at the extent size") {
    CHECK(SplitRange({0, 10}, 4) == std::vector<ByteRange>{{0, 4}, {4, 4}, {8, 2}});
    CHECK(SplitRange({3, 4}, 4) == std::vector<ByteRange>{{3, 4}});
    CHECK(SplitRange({3, 0}, 4).empty());
  }

  TEST_CASE("eviction takes least recently used first, until enough is freed") {
    std::vector<EvictionCandidate> c = {
        {"a", 0, 100, 30}, {"b", 0, 100, 10}, {"c", 0, 100, 20}, {"d", 0, 100, 40}};
    CHECK(PlanEviction(c, 150) == std::vector<size_t>{1, 2});
    CHECK(PlanEviction(c, 1) == std::vector<size_t>{1});
    CHECK(PlanEviction(c, 0).empty());
    CHECK(PlanEviction(c, 10000) == std::vector<size_t>{1, 2, 0, 3});
  }

  TEST_CASE("index keys sort by object, then offset") {
    std::string k1 = EncodeExtentKey("d-x", 5), k2 = EncodeExtentKey("d-x", 256),
                k3 = EncodeExtentKey("d-y", 0), k4 = EncodeExtentKey("d-x1", 0);
    CHECK(k1 < k2);
    CHECK(k2 < k4);  // "d-x\0..." < "d-x1..."
    CHECK(k2 < k3);
    std::string key;
    uint64_t offset = 0;
    REQUIRE(DecodeExtentKey(k2, &key, &offset));
    CHECK(key == "d-x");
    CHECK(offset == 256);
    CHECK_FALSE(DecodeExtentKey("short", &key, &offset));
    Extent e{4096, 8192, 0xdeadbeef, 1700000000}, d;
    REQUIRE(DecodeExtentValue(EncodeExtentValue(e), 4096, &d));
    CHECK(d.length == 8192);
    CHECK(d.crc == 0xdeadbeef);
    CHECK(d.atime == 1700000000);
    CHECK_FALSE(DecodeExtentValue("x", 0, &d));
  }

  TEST_CASE("the index finds overlapping extents and keeps the total") {
    ScopedTempDir tmp;
    auto index = LmdbIndex::Open(tmp.path() + "/index");
    REQUIRE(index.has_value());
    LmdbIndex& ix = *index.value();
    REQUIRE(ix.Put("d-a", {{0, 100, 1, 5}, {200, 100, 2, 5}, {400, 50, 3, 5}}).ok());
    REQUIRE(ix.Put("d-b", {{0, 1000, 4, 5}}).ok());
    REQUIRE(ix.Put("d-", {{0, 7, 4, 5}}).ok());
    CHECK(ix.TotalBytes().value() == 1257);
    auto offsets = [&](std::string_view key, ByteRange r) {
      std::vector<uint64_t> out;
      Result<std::vector<Extent>> found = ix.Overlapping(key, r);
      REQUIRE(found.has_value());
      const std::vector<Extent>& extents = found.value();
      for (size_t i = 0; i < extents.size(); ++i) out.push_back(extents[i].offset);
      return out;
    };
    CHECK(offsets("d-a", {0, 1000}) == std::vector<uint64_t>{0, 200, 400});
    CHECK(offsets("d-a", {50, 10}) == std::vector<uint64_t>{0});
    CHECK(offsets("d-a", {100, 100}).empty());
    CHECK(offsets("d-a", {250, 200}) == std::vector<uint64_t>{200, 400});
    CHECK(offsets("d-a", {449, 1000}) == std::vector<uint64_t>{400});
    CHECK(offsets("d-a", {450, 1000}).empty());
    CHECK(offsets("d-b", {999, 1}) == std::vector<uint64_t>{0});
    CHECK(offsets("d-c", {0, 10}).empty());
    CHECK(ix.Delete("d-a", 200).value() == 100);
    CHECK(ix.Delete("d-a", 200).value() == 0);
    CHECK(ix.TotalBytes().value() == 1157);
    REQUIRE(ix.TouchAll({{"d-b", 0, 99}, {"d-gone", 0, 99}}).ok());
    CHECK(ix.Overlapping("d-b", {0, 1}).value()[0].atime == 99);
    size_t n = 0;
    REQUIRE(ix.ForEach([&](std::string_view, const Extent&) { ++n; }).ok());
    CHECK(n == 4);
  }

  TEST_CASE("the index grows its map instead of failing, while other threads read") {
    ScopedTempDir tmp;
    auto index = LmdbIndex::Open(tmp.path() + "/index", size_t{1} << 20);  // grows ~6 times
    REQUIRE(index.has_value());
    LmdbIndex& ix = *index.value();
    // Readers keep transactions open all along: growing the map under them crashed.
    std::atomic<bool> done{false};
    std::atomic<uint64_t> reads{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 4; ++r) {
      readers.emplace_back([&, r] {
        while (!done) {
          auto found = ix.Overlapping("d-object-with-a-long-name-" + std::to_string(r), {0, 4000});
          (void)ix.TotalBytes();
          if (found.has_value()) ++reads;
        }
      });
    }
    std::vector<Extent> many;
    for (uint64_t i = 0; i < 2000; ++i) many.push_back({i * 10, 10, 0, 0});
    for (int k = 0; k < 400; ++k) {  // ~800k entries
      REQUIRE(ix.Put("d-object-with-a-long-name-" + std::to_string(k), many).ok());
    }
    done = true;
    for (std::thread& t : readers) t.join();
    CHECK(reads > 0);
    CHECK(ix.TotalBytes().value() == 400u * 2000u * 10u);
  }

  TEST_CASE("keys are datum ids, or hashes of the URL without its signature") {
    CHECK(BlockCache::KeyFor("019a17bd-e035", "https://x/a?sig=1", 5) == "d-019a17bd-e035");
    std::string k1 = BlockCache::KeyFor("", "https://x/a?sig=1", 5);
    CHECK(k1 == BlockCache::KeyFor("", "https://x/a?sig=2", 5));
    CHECK(k1 != BlockCache::KeyFor("", "https://x/a?sig=1", 6));
    // Other parameters name other objects.
    CHECK(BlockCache::KeyFor("", "https://x/dl?k=a.bin&sig=1", 5) !=
          BlockCache::KeyFor("", "https://x/dl?k=b.bin&sig=1", 5));
    CHECK(BlockCache::KeyFor("", "https://x/a?versionId=1&X-Amz-Signature=s", 5) !=
          BlockCache::KeyFor("", "https://x/a?versionId=2&X-Amz-Signature=s", 5));
    CHECK(k1.rfind("u-", 0) == 0);
    CHECK(k1.size() == 66);
    std::string odd = BlockCache::KeyFor("../../etc", "u", 1);
    CHECK(odd.find('/') == std::string::npos);
  }

  TEST_CASE("inserted bytes read back; partial coverage is reported as missing") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    std::string data = Bytes(300000, 1);
    CHECK_FALSE(cache->Read("d-x", {0, 10}).has_value());
    cache->Insert("d-x", 4096, std::string_view(data).substr(4096, 8192));
    CHECK(cache->Read("d-x", {4096, 8192}).value() == data.substr(4096, 8192));
    CHECK(cache->Read("d-x", {5000, 100}).value() == data.substr(5000, 100));
    CHECK_FALSE(cache->Read("d-x", {0, 8192}).has_value());
    CHECK(cache->Missing("d-x", {0, 20000}) ==
          std::vector<ByteRange>{{0, 4096}, {12288, 20000 - 12288}});
    cache->Insert("d-x", 0, data);  // fills the gaps only, in 64 KiB extents
    CHECK(cache->Read("d-x", {0, data.size()}).value() == data);
    CHECK(cache->TotalBytes() == data.size());
    CHECK(cache->counters().bytes_written == data.size());
  }

  TEST_CASE("a reopened cache serves what an earlier one wrote") {
    ScopedTempDir tmp;
    std::string data = Bytes(100000, 2);
    OpenCache(tmp.path())->Insert("d-y", 0, data);
    auto again = OpenCache(tmp.path());
    CHECK(again->Read("d-y", {0, data.size()}).value() == data);
    struct stat st;
    REQUIRE(stat(tmp.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(stat(DataFilePath(tmp.path(), "d-y").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }

  TEST_CASE("a flipped byte fails the CRC check and the extent is dropped") {
    ScopedTempDir tmp;
    std::string data = Bytes(50000, 3);
    OpenCache(tmp.path())->Insert("d-z", 0, data);
    {
      std::fstream f(DataFilePath(tmp.path(), "d-z"), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(1234);
      f.put(static_cast<char>(data[1234] ^ 0x40));
    }
    auto cache = OpenCache(tmp.path());  // a new process: nothing verified yet
    CHECK_FALSE(cache->Read("d-z", {0, 100}).has_value());
    CHECK(cache->counters().corrupt_extents == 1);
    CHECK(cache->Missing("d-z", {0, data.size()}) == std::vector<ByteRange>{{0, data.size()}});
    cache->Insert("d-z", 0, data);
    CHECK(cache->Read("d-z", {0, data.size()}).value() == data);
  }

  TEST_CASE("a flipped byte is found whether a read covers its extent whole or a part of it") {
    ScopedTempDir tmp;
    std::string data = Bytes(200000, 4);  // extents of 64 KiB
    auto flip = [&](uint64_t at) {
      std::fstream f(DataFilePath(tmp.path(), "d-w"),
                     std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(at));
      f.put(static_cast<char>(data[at] ^ 0x01));
    };
    OpenCache(tmp.path())->Insert("d-w", 0, data);
    flip(70000);   // in the second extent
    flip(140000);  // in the third
    auto cache = OpenCache(tmp.path());
    CHECK(cache->Read("d-w", {0, 65536}).value() == data.substr(0, 65536));  // whole, sound
    CHECK(cache->Read("d-w", {100, 50}).value() == data.substr(100, 50));    // then a part
    CHECK_FALSE(cache->Read("d-w", {65536, 65536}).has_value());             // whole, bad
    CHECK(cache->counters().corrupt_extents == 1);
    CHECK_FALSE(cache->Read("d-w", {131072 + 10, 100}).has_value());  // a part, bad
    CHECK(cache->counters().corrupt_extents == 2);
    CHECK(cache->Missing("d-w", {0, data.size()}) == std::vector<ByteRange>{{65536, 131072}});
    cache->Insert("d-w", 0, data);
    CHECK(cache->Read("d-w", {0, data.size()}).value() == data);
  }

  TEST_CASE("max_bytes evicts least recently used extents down to the low watermark") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path(), 1 << 20);
    std::string data = Bytes(256 * 1024, 4);
    for (int i = 0; i < 8; ++i) cache->Insert("d-f" + std::to_string(i), 0, data);
    CHECK(cache->TotalBytes() <= (1u << 20));
    CHECK(cache->counters().evictions > 0);
    CHECK(cache->Read("d-f7", {0, data.size()}).value() == data);  // the newest stayed
    CHECK_FALSE(cache->Read("d-f0", {0, data.size()}).has_value());  // the oldest went
  }

  TEST_CASE("evicting everything frees the disk blocks") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    cache->Insert("d-big", 0, Bytes(1 << 20, 5));
    struct stat st;
    REQUIRE(stat(DataFilePath(tmp.path(), "d-big").c_str(), &st) == 0);
    CHECK(st.st_blocks * 512 >= (1 << 20));
    REQUIRE(cache->Evict(true).ok());
    CHECK(cache->TotalBytes() == 0);
    REQUIRE(stat(DataFilePath(tmp.path(), "d-big").c_str(), &st) == 0);
    CHECK(st.st_blocks == 0);
  }

  TEST_CASE("evicting a file smaller than a block, or a file's tail, frees its last block") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    cache->Insert("d-small", 0, Bytes(1398, 9));
    cache->Insert("d-tail", 0, Bytes(8192 + 100, 10));
    struct stat st;
    REQUIRE(stat(DataFilePath(tmp.path(), "d-small").c_str(), &st) == 0);
    CHECK(st.st_blocks > 0);
    REQUIRE(cache->Evict(true).ok());
    for (const char* key : {"d-small", "d-tail"}) {
      REQUIRE(stat(DataFilePath(tmp.path(), key).c_str(), &st) == 0);
      CHECK(st.st_blocks == 0);
    }
    CHECK(st.st_size == 8192 + 100);  // the file keeps its size
  }

  TEST_CASE("pinned bytes are the cached ones in the data file, and eviction waits for them") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    std::string data = Bytes(200000, 8);
    cache->Insert("d-p", 0, data);
    CHECK(cache->Pin("d-p", {150000, 60000}) == nullptr);  // runs past what is cached
    CHECK(cache->Pin("d-q", {0, 1}) == nullptr);
    std::unique_ptr<PinnedBytes> pinned = cache->Pin("d-p", {1000, 150000});  // three extents
    REQUIRE(pinned != nullptr);
    std::string got(150000, '\0');
    REQUIRE(pread(pinned->fd(), got.data(), got.size(), 1000) == 150000);
    CHECK(got == data.substr(1000, 150000));
    CHECK(cache->counters().hits == 1);
    REQUIRE(cache->Evict(true).ok());
    CHECK(cache->Missing("d-p", {0, data.size()}).empty());  // pinned: not evicted
    pinned.reset();
    REQUIRE(cache->Evict(true).ok());
    CHECK(cache->Missing("d-p", {0, data.size()}) == std::vector<ByteRange>{{0, data.size()}});
  }

  TEST_CASE("an extent that fails its CRC check is never pinned, and is dropped") {
    ScopedTempDir tmp;
    std::string data = Bytes(200000, 9);  // extents 0-64K, 64K-128K, 128K-192K, 192K-200000
    OpenCache(tmp.path())->Insert("d-c", 0, data);
    {
      std::fstream f(DataFilePath(tmp.path(), "d-c"),
                     std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(70000);
      f.put(static_cast<char>(data[70000] ^ 0x01));
    }
    auto cache = OpenCache(tmp.path());                      // a new process: nothing verified yet
    CHECK(cache->Pin("d-c", {60000, 10}) != nullptr);        // the first extent is sound
    CHECK(cache->Pin("d-c", {65536 + 100, 10}) == nullptr);  // the bad byte is not even read
    CHECK(cache->counters().corrupt_extents == 1);
    CHECK(cache->Missing("d-c", {0, data.size()}) == std::vector<ByteRange>{{65536, 65536}});
    CHECK(cache->Pin("d-c", {0, data.size()}) == nullptr);
    cache->Insert("d-c", 0, data);
    std::unique_ptr<PinnedBytes> pinned = cache->Pin("d-c", {0, data.size()});
    REQUIRE(pinned != nullptr);
    std::string got(data.size(), '\0');
    REQUIRE(pread(pinned->fd(), got.data(), got.size(), 0) == static_cast<ssize_t>(data.size()));
    CHECK(got == data);
  }

  TEST_CASE("an extent being read is not evicted") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    cache->Insert("d-pinned", 0, Bytes(10000, 6));
    cache->Insert("d-free", 0, Bytes(10000, 7));
    {
      auto reader = DataFile::Open(DataFilePath(tmp.path(), "d-pinned"), DataFile::Mode::kRead,
                                   DataFile::Lock::kShared);
      REQUIRE(reader.has_value());
      REQUIRE(cache->Evict(true).ok());
    }
    CHECK(cache->Read("d-pinned", {0, 10000}).has_value());
    CHECK_FALSE(cache->Read("d-free", {0, 10000}).has_value());
  }

  TEST_CASE("a corrupt index is moved aside and the cache starts empty") {
    ScopedTempDir tmp;
    OpenCache(tmp.path())->Insert("d-q", 0, Bytes(1000, 8));
    {
      std::ofstream f(tmp.path() + "/index/data.mdb", std::ios::trunc);
      f << "this is not an LMDB file, not even close; it is long enough to be read though."
        << std::string(8192, 'x');
    }
    auto cache = OpenCache(tmp.path());
    CHECK(cache->TotalBytes() == 0);
    CHECK_FALSE(cache->Read("d-q", {0, 1000}).has_value());
    cache->Insert("d-q", 0, Bytes(1000, 8));
    CHECK(cache->Read("d-q", {0, 1000}).has_value());
  }

  TEST_CASE("random bytes in the index's pages never crash; a damaged index is moved aside") {
    std::mt19937_64 rng(20261130);
    int moved_aside = 0;
    for (int round = 0; round < 40; ++round) {
      ScopedTempDir tmp;
      {
        auto cache = OpenCache(tmp.path());
        for (uint32_t k = 0; k < 300; ++k) {
          cache->Insert("d-object-" + std::to_string(k), 0, Bytes(4096, k));
        }
      }
      const std::string data = tmp.path() + "/index/data.mdb";
      const uint64_t size = std::filesystem::file_size(data);
      {
        std::fstream f(data, std::ios::in | std::ios::out | std::ios::binary);
        for (int hits = 0; hits < 1 + round % 3; ++hits) {
          std::string junk = Bytes(1 + rng() % 64, static_cast<uint32_t>(rng()));
          f.seekp(static_cast<std::streamoff>(rng() % (size - junk.size())));
          f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
        }
      }
      CAPTURE(round);
      auto cache = OpenCache(tmp.path());
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(tmp.path(), ec)) {
        if (entry.path().filename().string().rfind("index.broken-", 0) == 0) ++moved_aside;
      }
      // Whatever survived reads exactly or not at all, and the cache still takes new bytes.
      for (uint32_t k = 0; k < 300; k += 7) {
        auto bytes = cache->Read("d-object-" + std::to_string(k), {0, 4096});
        if (bytes) CHECK(*bytes == Bytes(4096, k));
      }
      cache->Insert("d-new", 0, Bytes(5000, 1));
      auto fresh = cache->Read("d-new", {0, 5000});
      if (fresh) CHECK(*fresh == Bytes(5000, 1));
      (void)cache->Verify();
      (void)cache->Evict(true);
    }
    CHECK(moved_aside > 0);
  }

  TEST_CASE("an unusable directory is an error, not a crash") {
    ScopedTempDir tmp;
    std::string file = tmp.path() + "/plain-file";
    std::ofstream(file) << "x";
    CacheOptions o;
    o.dir = file;
    Result<std::unique_ptr<BlockCache>> c = BlockCache::Open(o);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().message() == file + ": not a directory");
  }
}

}  // namespace datumfs

#include <sys/wait.h>
#include <unistd.h>

namespace datumfs {

TEST_SUITE("cache") {
  TEST_CASE("a live claim blocks overlapping claims until it is released") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    CHECK(cache->Claim("d-c", {{0, 100}, {200, 100}}, 30));
    CHECK_FALSE(cache->Claim("d-c", {{50, 10}}, 30));   // overlaps the first
    CHECK_FALSE(cache->Claim("d-c", {{299, 10}}, 30));  // overlaps the second
    CHECK(cache->Claim("d-c", {{100, 100}}, 30));       // between them
    CHECK(cache->Claim("d-other", {{0, 100}}, 30));     // another object
    cache->Release("d-c", {{0, 100}, {200, 100}});
    CHECK(cache->Claim("d-c", {{50, 10}}, 30));
  }

  TEST_CASE("a fill's claims end with its insert, and also when nothing new is stored") {
    ScopedTempDir tmp;
    auto cache = OpenCache(tmp.path());
    const std::string data = Bytes(300, 3);
    REQUIRE(cache->Claim("d-f", {{0, 300}}, 30));
    cache->InsertAndRelease("d-f", 0, data, {{0, 300}});
    CHECK(cache->Read("d-f", {0, 300}) == data);
    CHECK(cache->Claim("d-f", {{0, 300}}, 30));  // released
    cache->InsertAndRelease("d-f", 0, data, {{0, 300}});  // all cached already: only releases
    CHECK(cache->Claim("d-f", {{0, 300}}, 30));
    cache->Insert("d-f", 0, data);  // releases nothing
    CHECK_FALSE(cache->Claim("d-f", {{0, 300}}, 30));
  }

  TEST_CASE("Put can remove claims in its own transaction; only the claimer's") {
    ScopedTempDir tmp;
    auto index = LmdbIndex::Open(tmp.path() + "/index");
    REQUIRE(index.has_value());
    LmdbIndex::Claim me{0, 0, 1, 1234, UINT64_MAX}, other{0, 0, 1, 5678, UINT64_MAX};
    auto alive = [](const LmdbIndex::Claim&) { return true; };
    REQUIRE(index.value()->ClaimAll("d-p", {{0, 10}}, me, alive).value());
    REQUIRE(index.value()->ClaimAll("d-p", {{10, 10}}, other, alive).value());
    REQUIRE(index.value()->Put("d-p", {Extent{0, 20, 0, 1}}, {{0, 10}, {10, 10}}, &me).ok());
    CHECK(index.value()->ClaimAll("d-p", {{0, 10}}, other, alive).value());   // mine is gone
    CHECK_FALSE(index.value()->ClaimAll("d-p", {{10, 1}}, me, alive).value());  // theirs stays
    CHECK(index.value()->Overlapping("d-p", {0, 20}).value().size() == 1);
  }

  TEST_CASE("claims of dead processes and expired claims are taken over") {
    ScopedTempDir tmp;
    auto index = LmdbIndex::Open(tmp.path() + "/index");
    REQUIRE(index.has_value());
    pid_t child = fork();
    if (child == 0) _exit(0);
    REQUIRE(waitpid(child, nullptr, 0) == child);  // a pid that no longer runs
    LmdbIndex::Claim dead{0, 0, 1, static_cast<uint32_t>(child), UINT64_MAX};
    LmdbIndex::Claim me{0, 0, 1, static_cast<uint32_t>(getpid()), UINT64_MAX};
    auto alive = [](const LmdbIndex::Claim& c) {
      return kill(static_cast<pid_t>(c.pid), 0) == 0;
    };
    REQUIRE(index.value()->ClaimAll("d-k", {{0, 10}}, dead, alive).value());
    CHECK(index.value()->ClaimAll("d-k", {{0, 10}}, me, alive).value());  // taken over
    LmdbIndex::Claim other{0, 0, 1, 999999, 0};
    CHECK_FALSE(index.value()->ClaimAll("d-k", {{5, 1}}, other, alive).value());  // mine lives
    auto never = [](const LmdbIndex::Claim&) { return false; };  // as if all had expired
    CHECK(index.value()->ClaimAll("d-k", {{5, 1}}, other, never).value());
  }
}

TEST_SUITE("verified set") {
  TEST_CASE("an extent is known once inserted; another version of it is not") {
    VerifiedSet set;
    Extent e{8 << 20, 8 << 20, 0xabcdef, 0};
    CHECK_FALSE(set.Contains("key", e));
    set.Insert("key", e);
    CHECK(set.Contains("key", e));
    e.atime = 12345;  // not part of its identity
    CHECK(set.Contains("key", e));
    CHECK_FALSE(set.Contains("key", Extent{8 << 20, 8 << 20, 0xabcdee, 0}));  // rewritten
    CHECK_FALSE(set.Contains("key", Extent{8 << 20, 4 << 20, 0xabcdef, 0}));
    CHECK_FALSE(set.Contains("key", Extent{0, 8 << 20, 0xabcdef, 0}));
    CHECK_FALSE(set.Contains("other", e));
  }

  TEST_CASE("memory stays fixed: old extents are forgotten, never unseen ones taken as known") {
    VerifiedSet set;
    const size_t n = 4 * VerifiedSet::kSlots;
    for (size_t i = 0; i < n; ++i) set.Insert("k" + std::to_string(i), Extent{i, 4096, 7, 0});
    CHECK(set.memory_bytes() == VerifiedSet::kSlots * sizeof(uint64_t));
    size_t known = 0;
    for (size_t i = 0; i < n; ++i) {
      known += set.Contains("k" + std::to_string(i), Extent{i, 4096, 7, 0});
    }
    CHECK(known > VerifiedSet::kSlots / 2);  // most of the last table's worth
    CHECK(known <= VerifiedSet::kSlots);
    for (size_t i = 0; i < n; ++i) {
      REQUIRE_FALSE(set.Contains("k" + std::to_string(i), Extent{i, 4096, 8, 0}));
    }
  }
}

}  // namespace datumfs
