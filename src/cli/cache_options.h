// The cache options given on a command line (mount, cache gc): one parser for both.
#ifndef DATUMFS_CLI_CACHE_OPTIONS_H_
#define DATUMFS_CLI_CACHE_OPTIONS_H_

#include <string>

#include "datumfs/cache.h"

namespace datumfs {

// Sizes that do not parse are EINVAL naming the option: usage errors.
Result<CacheOptions> ParseCacheOptions(const std::string& dir, const std::string& cache_max,
                                       const std::string& min_free);

}  // namespace datumfs

#endif  // DATUMFS_CLI_CACHE_OPTIONS_H_
