// SiteCacheNodes: which site cache node (an nginx of packaging/site-cache/) a datum's requests
// go to, and which nodes are resting after failures. Pure; not thread-safe (its owner locks).
//
// Consistent hashing: each node owns kPointsPerNode points on a 64-bit ring, placed by a hash of
// its URL and the point's number; a key goes to the owner of the first point at or after the
// key's own hash. Adding a node to N moves about 1/(N+1) of the keys, all of them to the new
// node; removing one moves only its own keys. A node that fails is skipped (the next point of
// another node is taken) for a rest that doubles each time it fails again after a rest, from
// first_backoff to max_backoff; one success ends it.
#ifndef DATUMFS_FETCH_SITE_CACHE_NODES_H_
#define DATUMFS_FETCH_SITE_CACHE_NODES_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace datumfs {

class SiteCacheNodes {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kPointsPerNode = 100;

  // REQUIRES: `urls` not empty, no duplicates (the caller checks what the user gave).
  explicit SiteCacheNodes(std::vector<std::string> urls,
                          std::chrono::milliseconds first_backoff = std::chrono::seconds(1),
                          std::chrono::milliseconds max_backoff = std::chrono::seconds(60));

  // The node for `key` among those not resting at `now`; nullopt if all are resting.
  std::optional<size_t> Pick(std::string_view key, Clock::time_point now) const;
  // A request to `node` failed (down, 5xx, a stall, a wrong body): it rests. Failures while
  // it rests already (requests that were under way) change nothing.
  void Failed(size_t node, Clock::time_point now);
  // A request to `node` succeeded: it is in service again, its backoff reset.
  void Succeeded(size_t node);

  size_t size() const { return nodes_.size(); }
  const std::string& url(size_t node) const { return nodes_[node].url; }
  bool resting(size_t node, Clock::time_point now) const { return now < nodes_[node].until; }

  static uint64_t Hash(std::string_view s);

 private:
  struct Node {
    std::string url;
    int failures = 0;           // in a row
    Clock::time_point until{};  // resting until then
  };
  std::vector<Node> nodes_;
  std::vector<std::pair<uint64_t, size_t>> ring_;  // (point, node), sorted by point
  const std::chrono::milliseconds first_backoff_, max_backoff_;
};

}  // namespace datumfs

#endif  // DATUMFS_FETCH_SITE_CACHE_NODES_H_
