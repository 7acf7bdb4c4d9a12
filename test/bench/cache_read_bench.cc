// Warm reads straight from the block cache, without FUSE or the network: the cost of one
// BlockCache::Read of a 4 KiB page whose extent was checked before (index lookups, the data
// file's pin, the copy). Built with the tests, run by hand:
//   build/test/cache_read_bench [CACHE_DIR]     (a new directory under /tmp by default)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "datumfs/cache.h"

using namespace datumfs;

int main(int argc, char** argv) {
  std::string dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    char pattern[] = "/tmp/datumfs-bench-XXXXXX";
    dir = mkdtemp(pattern);
  }
  CacheOptions options;
  options.dir = dir + "/cache";
  options.min_free = SizeOrPercent{};
  options.max_extent = 64 * 1024;
  Result<std::unique_ptr<BlockCache>> opened = BlockCache::Open(options);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message().c_str());
    return 1;
  }
  BlockCache& cache = *opened.value();
  constexpr int kObjects = 32;
  constexpr uint64_t kSize = 4 << 20, kPage = 4096;
  const std::string data(kSize, 'x');
  auto key = [](int i) { return "d-" + std::to_string(i); };
  for (int i = 0; i < kObjects; ++i) cache.Insert(key(i), 0, data);
  for (int i = 0; i < kObjects; ++i) {  // every extent read (and its CRC checked) once
    for (uint64_t off = 0; off < kSize; off += options.max_extent) {
      (void)cache.Read(key(i), ByteRange{off, kPage});
    }
  }
  constexpr int kReads = 300000;
  std::mt19937 random(1);
  size_t hits = 0;
  auto start = std::chrono::steady_clock::now();
  for (int n = 0; n < kReads; ++n) {
    int i = static_cast<int>(random() % kObjects);
    uint64_t off = random() % (kSize / kPage) * kPage;
    hits += cache.Read(key(i), ByteRange{off, kPage}).has_value();
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%d random 4 KiB reads from %d cached files: %zu hits, %.2f us a read\n", kReads,
              kObjects, hits, took.count() * 1e6 / kReads);
  opened.value().reset();  // closes the cache before its directory goes
  if (argc <= 1) std::filesystem::remove_all(dir);
  return hits == kReads ? 0 : 1;
}
