#include "datumfs/url_refresher.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <thread>

#include "base/mutex.h"
#include "datumfs/quote.h"
#include "datumfs/redact.h"
#include "fetch/input_request.h"
#include "fetch/url_expiry.h"

namespace datumfs {

class UrlRefresher::Impl {
 public:
  Impl(InputRequestApi api, RefreshOptions options)
      : api_(std::move(api)), options_(std::move(options)) {
    worker_ = std::thread([this] { WorkLoop(); });
  }
  void Stop() EXCLUDES(mu_);
  void Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) EXCLUDES(mu_);
  uint64_t refreshes() const { return refreshes_.load(); }

 private:
  struct Waiter {
    FileUrl file;
    bool refused;
    UrlDone done;
  };
  struct InputState {
    bool refreshing = false;
    std::chrono::steady_clock::time_point last_refresh{};
    std::map<std::string, std::string> urls;  // filename -> newest URL
    std::vector<Waiter> waiters;
  };
  using Urls = std::map<std::string, std::string>;

  std::string Latest(const FileUrl& file) REQUIRES(mu_);
  void WorkLoop() EXCLUDES(mu_);
  // Takes in the answer for one input; what to tell each reader that waited for it.
  std::vector<std::pair<Status, std::string>> Answer(const std::string& id,
                                                     const std::string& name,
                                                     const Result<Urls>& fresh,
                                                     std::vector<Waiter>& waiters) REQUIRES(mu_);

  const InputRequestApi api_;
  const RefreshOptions options_;
  Mutex mu_;  // a leaf: held for no request, callback or log line
  CondVar cv_;
  std::map<std::string, InputState> inputs_ GUARDED_BY(mu_);  // by input id
  std::deque<std::pair<std::string, std::string>> queue_ GUARDED_BY(mu_);  // (id, name)
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<bool> abort_{false};  // read by the API request's progress callback
  std::atomic<uint64_t> refreshes_{0};
  std::thread worker_;  // last
};

void UrlRefresher::Impl::Stop() {
  std::vector<Waiter> waiters;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    abort_ = true;
    for (auto& [id, state] : inputs_) {
      for (Waiter& w : state.waiters) waiters.push_back(std::move(w));
      state.waiters.clear();
    }
  }
  cv_.SignalAll();
  worker_.join();
  for (Waiter& w : waiters) w.done(Status::Errno(ECANCELED, "unmounting"), "");
}

std::string UrlRefresher::Impl::Latest(const FileUrl& file) {
  const InputState& state = inputs_[file.input_id];
  auto it = state.urls.find(file.filename);
  return it != state.urls.end() ? it->second : file.url;
}

void UrlRefresher::Impl::Resolve(const FileUrl& file, const std::string* refused_url,
                                 UrlDone done) {
  MutexLock lock(&mu_);
  std::string latest = Latest(file);
  bool refused = refused_url != nullptr && *refused_url == latest;
  std::optional<int64_t> expires = UrlExpiresAt(latest);
  bool expiring = expires && *expires - options_.margin.count() <= std::time(nullptr);
  InputState& state = inputs_[file.input_id];
  bool too_soon = std::chrono::steady_clock::now() - state.last_refresh < options_.min_interval;
  if (stopping_) {
    lock.Unlock();
    return done(Status::Errno(ECANCELED, "unmounting"), "");
  }
  if ((!refused && !expiring) || api_.url.empty() || (too_soon && !state.refreshing)) {
    lock.Unlock();
    if (refused) {  // nothing newer to offer
      std::string why = api_.url.empty() ? "refused, and there is no input_request API to refresh it"
                                         : "refused, and a fresh URL was refused too";
      return done(Status::Errno(EACCES, RedactUrl(latest), why), "");
    }
    return done(Status(), latest);  // good, or expiring but nothing better to be had now
  }
  state.waiters.push_back(Waiter{file, refused, std::move(done)});
  if (!state.refreshing) {
    state.refreshing = true;
    queue_.emplace_back(file.input_id, file.input_name);
    cv_.Signal();
  }
}

void UrlRefresher::Impl::WorkLoop() {
  MutexLock lock(&mu_);
  while (true) {
    while (!stopping_ && queue_.empty()) cv_.Wait(&mu_);
    if (stopping_) return;
    auto [id, name] = queue_.front();
    queue_.pop_front();
    lock.Unlock();
    Result<Urls> fresh = RequestInputUrls(api_, options_, id, name, &abort_);
    if (fresh) {
      ++refreshes_;
      spdlog::info("input {}: {} fresh URLs from input_request", Quote(name), fresh.value().size());
    } else {
      spdlog::warn("{}", fresh.error().message());
    }
    lock.Lock();
    std::vector<Waiter> waiters;
    std::vector<std::pair<Status, std::string>> answers = Answer(id, name, fresh, waiters);
    lock.Unlock();
    for (size_t i = 0; i < waiters.size(); ++i) waiters[i].done(answers[i].first, answers[i].second);
    lock.Lock();
  }
}

std::vector<std::pair<Status, std::string>> UrlRefresher::Impl::Answer(
    const std::string& id, const std::string& name, const Result<Urls>& fresh,
    std::vector<Waiter>& waiters) {
  InputState& state = inputs_[id];
  state.refreshing = false;
  state.last_refresh = std::chrono::steady_clock::now();
  if (fresh) {
    for (auto& [file, url] : fresh.value()) state.urls[file] = url;
  }
  waiters.swap(state.waiters);
  std::vector<std::pair<Status, std::string>> answers;
  for (const Waiter& w : waiters) {
    std::string url = Latest(w.file);
    if (fresh && !fresh.value().count(w.file.filename)) {
      answers.emplace_back(Status::Errno(EIO, "input_request for input " + Quote(name),
                                         "no URL for " + Quote(w.file.filename)),
                           "");
    } else if (!fresh && w.refused) {
      answers.emplace_back(fresh.error(), "");
    } else {
      answers.emplace_back(Status(), url);  // fresh, or the old one while the API fails
    }
  }
  return answers;
}

UrlRefresher::UrlRefresher(InputRequestApi api, RefreshOptions options)
    : impl_(std::make_unique<Impl>(std::move(api), std::move(options))) {}

UrlRefresher::~UrlRefresher() { Stop(); }

void UrlRefresher::Stop() { impl_->Stop(); }

void UrlRefresher::Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) {
  impl_->Resolve(file, refused_url, std::move(done));
}

uint64_t UrlRefresher::refreshes() const { return impl_->refreshes(); }

}  // namespace datumfs
