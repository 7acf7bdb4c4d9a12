#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/split.h"
#include "datumfs/download.h"
#include "datumfs/units.h"

namespace datumfs {
namespace {

using Clock = std::chrono::steady_clock;

// One read's answer, handed from the thread that completes it to the downloading one. Shared:
// a read abandoned at Stop() may still be answered afterwards.
struct Answer {
  Mutex mu;
  CondVar cv;
  bool done GUARDED_BY(mu) = false;
  Status status GUARDED_BY(mu);
  size_t bytes GUARDED_BY(mu) = 0;
};

}  // namespace

Result<std::vector<uint32_t>> ChooseInputs(const Tree& tree, std::string_view spec) {
  const std::vector<Input>& inputs = tree.inputs();
  std::vector<uint32_t> chosen;
  if (spec == "all") {
    for (uint32_t i = 0; i < inputs.size(); ++i) chosen.push_back(i);
    return chosen;
  }
  for (const std::string& name : SplitNonEmpty(spec)) {
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const Input& input) { return input.name == name; });
    if (it == inputs.end()) {
      std::string known;
      for (const Input& input : inputs) known += (known.empty() ? "" : ", ") + input.name;
      return Status::Errno(EINVAL, "--download: inputs.json has no input named \"" + name +
                                       "\" (its inputs: " + (known.empty() ? "none" : known) + ")");
    }
    const uint32_t index = static_cast<uint32_t>(it - inputs.begin());
    if (std::find(chosen.begin(), chosen.end(), index) == chosen.end()) chosen.push_back(index);
  }
  if (chosen.empty()) return Status::Errno(EINVAL, "--download: no input named");
  return chosen;
}

class BackgroundDownload::Impl {
 public:
  Impl(const Tree& tree, Reader& reader, const std::vector<uint32_t>& inputs,
       DownloadOptions options);
  void Start();
  void Stop() EXCLUDES(mu_);
  DownloadProgress progress() const;

 private:
  struct InputPlan {
    uint32_t index = 0;
    size_t files = 0;
    uint64_t bytes = 0;
    size_t left = 0;  // files not done yet
    uint64_t failed = 0;
  };
  struct Item {
    NodeId node = 0;
    size_t plan = 0;  // into plans_
  };

  // A reading thread: takes the next file until none is left or Stop().
  void Work();
  // Reads all of `node` through the reader (the cache keeps what it fetches). False if it was
  // given up, or stopped.
  bool ReadFile(NodeId node);
  // One read, tried up to options_.attempts times.
  Status ReadWithRetries(const std::shared_ptr<OpenFile>& file, uint64_t offset, size_t size);
  // One read; waits for its answer, or until Stop().
  Status ReadOnce(const std::shared_ptr<OpenFile>& file, uint64_t offset, size_t size);
  void FileDone(const Item& item, bool ok) EXCLUDES(mu_);
  void LogComplete(const InputPlan& plan, uint64_t failed) const;
  // Sleeps for `pause` unless stopped first; false if stopped.
  bool PauseUnlessStopped(std::chrono::milliseconds pause) EXCLUDES(mu_);

  const Tree& tree_;
  Reader& reader_;
  const DownloadOptions options_;
  std::vector<Item> items_;  // every file, in the order they are read
  uint64_t bytes_total_ = 0;
  Clock::time_point start_;
  std::atomic<size_t> next_{0};  // the next item to take
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bytes_done_{0}, bytes_read_{0}, files_done_{0}, files_failed_{0};
  std::vector<std::thread> threads_;

  mutable Mutex mu_;
  CondVar stop_cv_;  // signalled by Stop()
  std::vector<InputPlan> plans_ GUARDED_BY(mu_);
};

BackgroundDownload::Impl::Impl(const Tree& tree, Reader& reader,
                               const std::vector<uint32_t>& inputs, DownloadOptions options)
    : tree_(tree), reader_(reader), options_(std::move(options)) {
  const std::vector<std::vector<NodeId>> files = tree.FilesInManifestOrder();
  MutexLock lock(&mu_);
  for (uint32_t index : inputs) {
    InputPlan& plan = plans_.emplace_back();
    plan.index = index;
    for (NodeId node : files[index]) {
      items_.push_back(Item{node, plans_.size() - 1});
      plan.bytes += tree.size(node);
      ++plan.files;
    }
    plan.left = plan.files;
    bytes_total_ += plan.bytes;
  }
}

void BackgroundDownload::Impl::Start() {
  start_ = Clock::now();
  {
    MutexLock lock(&mu_);
    for (const InputPlan& plan : plans_) {
      if (plan.files == 0) LogComplete(plan, 0);
    }
  }
  const size_t threads = std::min<size_t>(std::max(1u, options_.files_at_once), items_.size());
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

void BackgroundDownload::Impl::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    stop_cv_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

DownloadProgress BackgroundDownload::Impl::progress() const {
  DownloadProgress p;
  p.bytes_total = bytes_total_;
  p.bytes_done = bytes_done_.load();
  p.files_total = items_.size();
  p.files_done = files_done_.load();
  p.files_failed = files_failed_.load();
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(bytes_read_.load()) / seconds : 0;
  const bool ended = p.files_done + p.files_failed == p.files_total;
  if (rate > 0 && !ended && p.bytes_done < p.bytes_total) {
    p.eta_seconds =
        static_cast<uint64_t>(static_cast<double>(p.bytes_total - p.bytes_done) / rate) + 1;
  }
  return p;
}

void BackgroundDownload::Impl::Work() {
  for (size_t i = next_++; i < items_.size() && !stopping_; i = next_++) {
    const bool ok = ReadFile(items_[i].node);
    if (stopping_) return;  // neither done nor failed: the next mount resumes it
    FileDone(items_[i], ok);
  }
}

bool BackgroundDownload::Impl::ReadFile(NodeId node) {
  const uint64_t size = tree_.size(node);
  if (reader_.CachedBytes(node) == size) {
    bytes_done_ += size;
    return true;
  }
  std::shared_ptr<OpenFile> file = reader_.Open(node, /*bulk=*/true);
  for (uint64_t offset = 0; offset < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(options_.read_size, size - offset));
    Status read = ReadWithRetries(file, offset, want);
    if (stopping_) return false;
    if (!read.ok()) {
      spdlog::warn("download: {}; left for the job to read", read.message());  // names the file
      return false;
    }
    offset += want;
    bytes_done_ += want;
    bytes_read_ += want;
  }
  return true;
}

Status BackgroundDownload::Impl::ReadWithRetries(const std::shared_ptr<OpenFile>& file,
                                                 uint64_t offset, size_t size) {
  Status read;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    read = ReadOnce(file, offset, size);
    // A busy job can hold bulk transfers back past the read's deadline: try again.
    if (read.ok() || stopping_ || attempt == options_.attempts) break;
    if (!PauseUnlessStopped(options_.pause)) break;
  }
  return read;
}

Status BackgroundDownload::Impl::ReadOnce(const std::shared_ptr<OpenFile>& file, uint64_t offset,
                                          size_t size) {
  auto answer = std::make_shared<Answer>();
  reader_.Read(file, offset, size, [answer](const Status& status, std::string_view bytes) {
    MutexLock lock(&answer->mu);
    answer->done = true;
    answer->status = status;
    answer->bytes = bytes.size();
    answer->cv.SignalAll();
  });
  MutexLock lock(&answer->mu);
  while (!answer->done) {
    if (stopping_) return Status::Errno(ECANCELED, "download stopped");
    answer->cv.WaitFor(&answer->mu, std::chrono::milliseconds(100));
  }
  if (!answer->status.ok()) return answer->status;
  if (answer->bytes != size) {
    return Status::Errno(EIO, "read " + std::to_string(answer->bytes) + " bytes at " +
                                  std::to_string(offset) + ", expected " + std::to_string(size));
  }
  return Status();
}

bool BackgroundDownload::Impl::PauseUnlessStopped(std::chrono::milliseconds pause) {
  MutexLock lock(&mu_);
  const Clock::time_point until = Clock::now() + pause;
  while (!stopping_ && Clock::now() < until) stop_cv_.WaitUntil(&mu_, until);
  return !stopping_;
}

void BackgroundDownload::Impl::FileDone(const Item& item, bool ok) {
  ++(ok ? files_done_ : files_failed_);
  MutexLock lock(&mu_);
  InputPlan& plan = plans_[item.plan];
  if (!ok) ++plan.failed;
  if (--plan.left == 0) LogComplete(plan, plan.failed);
}

void BackgroundDownload::Impl::LogComplete(const InputPlan& plan, uint64_t failed) const {
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const std::string& name = tree_.inputs()[plan.index].name;
  if (failed == 0) {
    spdlog::info("download: input {} is in the cache: {} files, {} ({:.1f} s)", name, plan.files,
                 HumanBytes(plan.bytes), seconds);
  } else {
    spdlog::warn(
        "download: input {} is done but for {} of its {} files, left for the job to "
        "read ({:.1f} s)",
        name, failed, plan.files, seconds);
  }
}

BackgroundDownload::BackgroundDownload(const Tree& tree, Reader& reader,
                                       std::vector<uint32_t> inputs, DownloadOptions options)
    : impl_(std::make_unique<Impl>(tree, reader, inputs, std::move(options))) {}

BackgroundDownload::~BackgroundDownload() { Stop(); }

void BackgroundDownload::Start() { impl_->Start(); }

void BackgroundDownload::Stop() { impl_->Stop(); }

DownloadProgress BackgroundDownload::progress() const { return impl_->progress(); }

}  // namespace datumfs
