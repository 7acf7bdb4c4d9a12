#include "fetch/retry.h"

#include <algorithm>
#include <cstdint>

namespace datumfs {

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit_random) {
  int64_t ceiling = base.count();
  for (int i = 0; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, cap.count());
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(ceiling) * unit_random));
}

}  // namespace datumfs
