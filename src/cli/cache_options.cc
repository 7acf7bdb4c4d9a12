#include "cli/cache_options.h"

#include <cerrno>

#include "datumfs/units.h"

namespace datumfs {

Result<CacheOptions> ParseCacheOptions(const std::string& dir, const std::string& cache_max,
                                       const std::string& min_free) {
  CacheOptions o;
  o.dir = dir;
  if (!cache_max.empty()) {
    Result<uint64_t> max = ParseSize(cache_max);
    if (!max) return Status::Errno(EINVAL, "--cache-max " + max.error().message());
    o.max_bytes = max.value();
  }
  if (!min_free.empty()) {
    Result<SizeOrPercent> free = ParseSizeOrPercent(min_free);
    if (!free) return Status::Errno(EINVAL, "--min-free " + free.error().message());
    o.min_free = free.value();
  }
  return o;
}

}  // namespace datumfs
