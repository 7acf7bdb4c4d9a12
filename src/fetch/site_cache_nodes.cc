#include "fetch/site_cache_nodes.h"

#include <algorithm>

namespace datumfs {

uint64_t SiteCacheNodes::Hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then splitmix64's finalizer to spread it
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

SiteCacheNodes::SiteCacheNodes(std::vector<std::string> urls, std::chrono::milliseconds first,
                               std::chrono::milliseconds max)
    : first_backoff_(first), max_backoff_(max) {
  for (std::string& url : urls) nodes_.push_back(Node{std::move(url)});
  for (size_t n = 0; n < nodes_.size(); ++n) {
    for (int p = 0; p < kPointsPerNode; ++p) {
      ring_.emplace_back(Hash(nodes_[n].url + "#" + std::to_string(p)), n);
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

std::optional<size_t> SiteCacheNodes::Pick(std::string_view key, Clock::time_point now) const {
  if (ring_.empty()) return std::nullopt;
  const uint64_t h = Hash(key);
  auto first = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(h, size_t{0}));
  size_t start = static_cast<size_t>(first - ring_.begin());
  for (size_t i = 0; i < ring_.size(); ++i) {
    const size_t node = ring_[(start + i) % ring_.size()].second;
    if (!resting(node, now)) return node;
  }
  return std::nullopt;
}

void SiteCacheNodes::Failed(size_t node, Clock::time_point now) {
  Node& n = nodes_[node];
  // Requests that were under way when it failed fail too: one failure, not many in a row.
  if (now < n.until) return;
  const int doublings = std::min(n.failures, 16);
  std::chrono::milliseconds rest =
      std::min(max_backoff_, first_backoff_ * (int64_t{1} << doublings));
  n.until = now + rest;
  ++n.failures;
}

void SiteCacheNodes::Succeeded(size_t node) {
  nodes_[node].failures = 0;
  nodes_[node].until = Clock::time_point{};
}

}  // namespace datumfs
