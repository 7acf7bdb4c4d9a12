#include "reader/read_through_log.h"

#include <fmt/format.h>

#include "datumfs/units.h"

namespace datumfs {

ReadThroughLog::ReadThroughLog(size_t node_count, size_t max_followed)
    : max_followed_(max_followed), done_(node_count, false) {}

void ReadThroughLog::MakeRoom() {
  // Drop ids whose entries are gone from the front, then the oldest entry if too many.
  while (!order_.empty() && !followed_.count(order_.front())) order_.pop_front();
  if (followed_.size() >= max_followed_ && !order_.empty()) {
    followed_.erase(order_.front());
    order_.pop_front();
  }
}

bool ReadThroughLog::NoteRead(NodeId node, uint64_t size, uint64_t offset, uint64_t length) {
  MutexLock lock(&mu_);
  if (done_[node]) return false;
  auto it = followed_.find(node);
  if (it == followed_.end()) {
    MakeRoom();
    it = followed_.emplace(node, std::make_unique<Followed>(size)).first;
    order_.push_back(node);
  }
  Followed& file = *it->second;
  const bool through = file.coverage.Add(offset, length);
  if (file.coverage.given_up()) {
    done_[node] = true;
    followed_.erase(it);
  }
  return through;
}

void ReadThroughLog::NoteFetched(NodeId node, uint64_t bytes, uint64_t site_cache_bytes) {
  MutexLock lock(&mu_);
  auto it = followed_.find(node);
  if (it == followed_.end()) return;
  it->second->fetched_bytes += bytes;
  it->second->site_cache_bytes += site_cache_bytes;
}

std::optional<ReadThroughLog::Through> ReadThroughLog::Finish(NodeId node) {
  std::unique_ptr<Followed> file;
  {
    MutexLock lock(&mu_);
    auto it = followed_.find(node);
    if (it == followed_.end()) return std::nullopt;
    file = std::move(it->second);
    followed_.erase(it);
    done_[node] = true;
  }
  ++files_read_;
  return Through{file->fetched_bytes,
                 std::chrono::duration<double>(Clock::now() - file->first_read).count(),
                 file->site_cache_bytes};
}

std::string ReadThroughLog::Line(const std::string& name, uint64_t size, const Through& t) {
  if (t.fetched_bytes == 0) {
    return fmt::format("{}: cached {} in {:.1f} s", name, HumanBytes(size), t.seconds);
  }
  std::string line =
      fmt::format("{}: fetched {} in {:.1f} s", name, HumanBytes(t.fetched_bytes), t.seconds);
  if (t.site_cache_bytes >= t.fetched_bytes) {
    line += " via site cache";
  } else if (t.site_cache_bytes > 0) {
    line += fmt::format(" ({} via site cache)", HumanBytes(t.site_cache_bytes));
  }
  if (t.fetched_bytes < size)
    line += fmt::format(" ({} cached)", HumanBytes(size - t.fetched_bytes));
  return line;
}

}  // namespace datumfs
