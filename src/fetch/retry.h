// When to try a failed request again: full-jitter exponential backoff. Pure.
#ifndef DATUMFS_FETCH_RETRY_H_
#define DATUMFS_FETCH_RETRY_H_

#include <chrono>

namespace datumfs {

// Full jitter: uniform in [0, min(cap, base * 2^attempt)]; `unit_random` is in [0, 1).
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit_random);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_RETRY_H_
