#include "reader/open_file.h"

#include <algorithm>

namespace datumfs {

std::optional<Status> OpenFile::RecentFailure(ByteRange read) const {
  if (failed_.offset < read.end() && read.offset < failed_.end() &&
      std::chrono::steady_clock::now() - failed_at_ < std::chrono::seconds(1)) {
    return failed_status_;
  }
  return std::nullopt;
}

void OpenFile::NoteFailure(ByteRange range, const Status& status) {
  failed_ = range;
  failed_status_ = status;
  failed_at_ = std::chrono::steady_clock::now();
}

std::vector<Waiter> OpenFile::Publish(const std::shared_ptr<Range>& range, std::string&& data) {
  std::vector<Waiter> waiters;
  waiters.swap(range->waiters);
  range->data = std::move(data);
  range->ready = true;
  return waiters;
}

std::vector<Waiter> OpenFile::Forget(const std::shared_ptr<Range>& range, const Status& failed) {
  std::vector<Waiter> waiters;
  waiters.swap(range->waiters);
  std::erase(ranges_, range);
  NoteFailure(range->range, failed);
  return waiters;
}

std::vector<std::shared_ptr<Range>> OpenFile::StartAhead(
    uint64_t read_end, uint64_t file_size, const std::shared_ptr<ByteBudget>& budget) {
  std::vector<std::shared_ptr<Range>> started;
  {
    MutexLock lock(&budget->mu);
    uint64_t available = bulk_ ? budget->AvailableToBulk() : budget->Available();
    for (const ByteRange& part : policy_.Ahead(read_end, file_size, available)) {
      started.push_back(std::make_shared<Range>(part, budget));
    }
  }
  ranges_.insert(ranges_.end(), started.begin(), started.end());
  return started;
}

void OpenFile::Prune(uint64_t offset, size_t keep) {
  auto& rs = ranges_;
  // A straggler from behind (kernel read-ahead reorders a little) finds them in the cache.
  std::erase_if(rs, [&](const auto& r) { return r->ready && r->range.end() <= offset; });
  size_t kept = 0;
  for (auto it = rs.end(); it != rs.begin();) {
    --it;
    bool behind = (*it)->range.offset <= offset;
    if ((*it)->ready && behind && ++kept > keep) {
      it = rs.erase(it);
    }
  }
}

}  // namespace datumfs
