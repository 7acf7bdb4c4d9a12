#include "reader/cache_writer.h"

#include "reader/internal.h"

namespace datumfs {

CacheWriter::CacheWriter(BlockCache& cache) : cache_(cache) {
  thread_ = std::thread([this] { Loop(); });
}

CacheWriter::~CacheWriter() { Stop(); }

void CacheWriter::Submit(CacheWrite write) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(write));
      cv_.notify_one();
      return;
    }
  }
  Write(write);
}

void CacheWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CacheWriter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // and stopping
    CacheWrite write = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Write(write);
    lock.lock();
  }
}

void CacheWriter::Write(const CacheWrite& write) {
  for (const ByteRange& part : write.parts) {
    const std::string_view bytes(write.range->data);
    cache_.Insert(write.key, part.offset,
                  bytes.substr(part.offset - write.range->range.offset, part.length));
  }
  if (write.release_claims) cache_.Release(write.key, write.parts);
  if (write.after) write.after();
}

}  // namespace datumfs
