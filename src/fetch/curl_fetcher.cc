// The Fetcher: one thread runs a libcurl multi handle. Submit() queues a request and wakes the
// loop (curl_multi_wakeup); the loop adds queued transfers, drives them, and completes the
// finished ones. The multi handle keeps a connection cache, so range requests to one host
// reuse connections; a share handle keeps TLS sessions, so a new connection to a host resumes
// one (a shorter handshake) instead of starting over. Both are used on the fetch thread only.
//
// A transfer that fails in a way worth retrying (connection error, stall, 5xx, 429, a
// response that does not fit) is tried again after a backoff with full jitter (or the
// server's Retry-After), resuming after the last byte that arrived intact, until its
// deadline. Waiting transfers sit in a time-ordered queue on the loop's thread. What happens
// inside one transfer (callbacks, judging an attempt) is in transfer.cc.
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "datumfs/fetch.h"
#include "datumfs/redact.h"
#include "fetch/classify.h"
#include "fetch/retry.h"
#include "fetch/site_cache_nodes.h"
#include "fetch/transfer.h"

namespace datumfs {
namespace {

using Clock = std::chrono::steady_clock;

class CurlFetcher final : public Fetcher {
 public:
  explicit CurlFetcher(const FetchOptions& options);
  ~CurlFetcher() override;
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  void Submit(RangeRequest request, FetchDone done) override;
  FetchCounters counters() const override;

 private:
  void Loop();
  void StartQueued();
  void StartDue();
  // Starts waiting background requests while there is room for them.
  void StartBackground();
  bool Start(std::unique_ptr<Transfer> t);
  void Finish(CURL* easy, CURLcode result);
  // What the ended attempt means: Transfer::Judge, and the object's ETag kept consistent.
  FetchError Judge(Transfer& t, CURLcode result);
  // Whether a failed attempt through a site cache node may be the node's fault.
  static bool IsNodeFault(FetchError error);
  // After such a failure: rests the node and starts the rest of the request at the store.
  void Bypass(std::unique_ptr<Transfer> t);
  // Schedules another attempt after a backoff, or fails the transfer.
  void Retry(std::unique_ptr<Transfer> t, FetchError error);
  void Fail(std::unique_ptr<Transfer> t, FetchError error);
  // Ends transfers that received nothing for options_.stall_time (curl's own low-speed check
  // averages over seconds and notices a stall after a burst only much later).
  void EndStalled();
  int PollTimeoutMs() const;

  const FetchOptions options_;
  CURLSH* share_;  // TLS sessions and DNS of every easy handle (one fetch thread: no locks)
  CURLM* multi_;
  Mutex mu_;  // a leaf: held for no curl call and no callback
  std::deque<std::unique_ptr<Transfer>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::set<CURL*> running_;                                   // fetch thread only
  // The ETag each object (by URL without its query) first answered with: later requests send
  // If-Match, so a replaced object is an error, never a mix of two versions.
  std::map<std::string, std::string> etags_;                  // fetch thread only
  std::multimap<Clock::time_point, std::unique_ptr<Transfer>> delayed_;  // fetch thread only
  std::deque<std::unique_ptr<Transfer>> background_;  // fetch thread only: waiting for room
  int running_foreground_ = 0, running_background_ = 0;  // fetch thread only
  Clock::time_point busy_until_{};  // fetch thread only: background yields until then
  std::mt19937_64 random_{std::random_device{}()};            // fetch thread only
  std::set<std::string> reported_;  // fetch thread only: TLS and proxy problems logged so far
  std::optional<SiteCacheNodes> nodes_;  // fetch thread only; none without site caches
  std::atomic<uint64_t> requests_{0}, bytes_{0}, errors_{0}, retries_{0}, tls_errors_{0};
  struct NodeCounters {
    std::atomic<uint64_t> requests{0}, bytes{0}, errors{0};
  };
  std::vector<NodeCounters> node_counters_;  // by node: sized once, by the constructor
  std::thread thread_;  // last: starts after everything above exists
};

CurlFetcher::CurlFetcher(const FetchOptions& options)
    : options_(options),
      share_(curl_share_init()),
      multi_(curl_multi_init()),
      node_counters_(options.site_caches.size()) {
  if (!options_.site_caches.empty()) nodes_.emplace(options_.site_caches);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
  // Keep idle connections for reuse: libcurl's default cache (4 per easy handle added right
  // now) shrinks whenever few requests run, and closing connections means new handshakes.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 4 * options_.max_host_connections);
  thread_ = std::thread([this] { Loop(); });
}

CurlFetcher::~CurlFetcher() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
  curl_share_cleanup(share_);
}

void CurlFetcher::Submit(RangeRequest request, FetchDone done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(t));
      curl_multi_wakeup(multi_);
      return;
    }
  }
  t->done(FetchResult::Of(FetchOutcome::kCancelled, "fetcher is stopping"), std::string());
}

FetchCounters CurlFetcher::counters() const {
  FetchCounters c{requests_.load(), bytes_.load(),      errors_.load(),
                  retries_.load(),  tls_errors_.load(), {}};
  for (size_t n = 0; n < node_counters_.size(); ++n) {
    const NodeCounters& node = node_counters_[n];
    c.site_caches.push_back(SiteCacheCounters{options_.site_caches[n], node.requests.load(),
                                              node.bytes.load(), node.errors.load()});
  }
  return c;
}

bool CurlFetcher::Start(std::unique_ptr<Transfer> t) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t->request.deadline -
                                                                    Clock::now());
  if (left.count() <= 0) {
    if (t->last_error.empty()) t->last_error = "deadline passed before the request";
    Fail(std::move(t), FetchError::kTimedOut);
    return false;
  }
  std::string if_match = t->prefix_etag;
  if (auto it = etags_.find(ObjectIdentity(t->request.url)); it != etags_.end()) {
    if_match = it->second;
  }
  std::string via;  // a site cache node, while the request has not seen one fail
  t->node = -1;
  if (nodes_ && !t->direct && !t->request.site_key.empty()) {
    if (std::optional<size_t> node = nodes_->Pick(t->request.site_key, Clock::now())) {
      t->node = static_cast<int>(*node);
      via = nodes_->url(*node);
      ++node_counters_[*node].requests;
    }
  }
  CURL* easy = t->NewAttempt(options_, share_, left, if_match, via);
  curl_multi_add_handle(multi_, easy);
  running_.insert(easy);
  ++requests_;
  if (t->request.background) {
    ++running_background_;
  } else {
    ++running_foreground_;
    busy_until_ = Clock::now() + options_.busy_linger;
  }
  t.release();  // owned through CURLOPT_PRIVATE until Finish()
  return true;
}

void CurlFetcher::StartQueued() {
  std::deque<std::unique_ptr<Transfer>> queued;
  {
    MutexLock lock(&mu_);
    queued.swap(queue_);
  }
  for (auto& t : queued) {
    if (t->request.background) {
      background_.push_back(std::move(t));
    } else {
      Start(std::move(t));
    }
  }
}

void CurlFetcher::StartBackground() {
  const bool busy = running_foreground_ > 0 || Clock::now() < busy_until_;
  const int room = busy ? options_.background_when_busy : options_.background_transfers;
  while (!background_.empty() && running_background_ < room) {
    std::unique_ptr<Transfer> t = std::move(background_.front());
    background_.pop_front();
    Start(std::move(t));
  }
}

void CurlFetcher::StartDue() {
  Clock::time_point now = Clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::unique_ptr<Transfer> t = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    Start(std::move(t));
  }
}

FetchError CurlFetcher::Judge(Transfer& t, CURLcode result) {
  FetchError error = t.Judge(result);
  if (!t.warning.empty() && reported_.insert(t.warning).second) spdlog::warn("{}", t.warning);
  if (error != FetchError::kNone || t.head.etag.empty()) return error;
  auto [it, first] = etags_.emplace(ObjectIdentity(t.request.url), t.head.etag);
  if (!first && it->second != t.head.etag) {
    t.last_error = RedactUrl(t.request.url) + ": the object was replaced (ETag " + it->second +
                   ", now " + t.head.etag + ")";
    return FetchError::kReplaced;
  }
  return FetchError::kNone;
}

void CurlFetcher::Finish(CURL* easy, CURLcode result) {
  Transfer* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  std::unique_ptr<Transfer> t(raw);
  curl_multi_remove_handle(multi_, easy);
  running_.erase(easy);
  if (t->request.background) {
    --running_background_;
  } else {
    --running_foreground_;
    busy_until_ = Clock::now() + options_.busy_linger;
  }
  t->EndAttempt(result, options_.tls);
  bytes_ += t->received - t->attempt_start;
  if (t->node >= 0) {
    node_counters_[static_cast<size_t>(t->node)].bytes += t->received - t->attempt_start;
  }
  FetchError error = Judge(*t, result);
  if (error == FetchError::kNone) {
    if (t->node >= 0) {
      nodes_->Succeeded(static_cast<size_t>(t->node));
      t->site_cache_bytes += t->received - t->attempt_start;
    }
    FetchResult ok;
    ok.site_cache_bytes = t->site_cache_bytes;
    t->done(ok, std::move(t->body));
    return;
  }
  t->KeepIntactBytes(error);
  if (t->received == 0) t->site_cache_bytes = 0;  // nothing kept: the bytes will come again
  if (t->node >= 0) t->site_cache_bytes += t->received - t->attempt_start;
  if (t->node >= 0 && IsNodeFault(error)) return Bypass(std::move(t));
  Retry(std::move(t), error);
}

bool CurlFetcher::IsNodeFault(FetchError error) {
  // A refused URL (403) or a missing object (404, 410) is the store's own answer, passed on by
  // the cache: the store would say the same. The rest may be the node's doing.
  return error != FetchError::kRefused && error != FetchError::kMissing &&
         error != FetchError::kTimedOut && error != FetchError::kCancelled &&
         error != FetchError::kBadUrl;
}

void CurlFetcher::Bypass(std::unique_ptr<Transfer> t) {
  const size_t node = static_cast<size_t>(t->node);
  ++node_counters_[node].errors;
  // Logged when the node goes from serving to resting, not for every request it had.
  if (!nodes_->resting(node, Clock::now())) {
    spdlog::warn("site cache {}: {}; reading from the store directly for a while",
                 nodes_->url(node), t->last_error);
  }
  nodes_->Failed(node, Clock::now());
  t->direct = true;
  if (t->received > t->attempt_start) t->prefix_etag = t->head.etag;  // the response kept from
  t->attempt_start = t->received;
  Start(std::move(t));  // at once: the store has not failed yet
}

void CurlFetcher::Retry(std::unique_ptr<Transfer> t, FetchError error) {
  if (!IsRetryable(error) || t->attempt + 1 >= options_.max_attempts) {
    return Fail(std::move(t), error);
  }
  auto delay = BackoffDelay(t->attempt, options_.backoff_base, options_.backoff_cap,
                            std::uniform_real_distribution<double>(0, 1)(random_));
  // A server that says when to come back is believed (CURLINFO_RETRY_AFTER: seconds or a date).
  if (error == FetchError::kThrottled && t->head.retry_after.count() > 0) {
    delay = t->head.retry_after;
  }
  Clock::time_point when = Clock::now() + delay;
  if (when >= t->request.deadline) return Fail(std::move(t), error);
  ++t->attempt;
  ++retries_;
  if (t->received > t->attempt_start) t->prefix_etag = t->head.etag;  // the response kept from
  t->attempt_start = t->received;
  delayed_.emplace(when, std::move(t));
}

void CurlFetcher::Fail(std::unique_ptr<Transfer> t, FetchError error) {
  ++errors_;
  if (error == FetchError::kTls) ++tls_errors_;
  if (error == FetchError::kTls || error == FetchError::kProxy) {
    // Once per problem and host: every read of every file there fails the same way.
    if (reported_.insert(t->reported_problem).second) spdlog::error("{}", t->reported_problem);
  }
  std::string message = t->last_error;
  if (t->attempt > 0) message += " (after " + std::to_string(t->attempt + 1) + " attempts)";
  t->done(ResultOf(error, message), std::string());
}

void CurlFetcher::EndStalled() {
  Clock::time_point now = Clock::now();
  std::vector<CURL*> stalled;
  for (CURL* easy : running_) {
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
    if (now - t->last_progress >= options_.stall_time) stalled.push_back(easy);
  }
  // Judged as a timeout before the deadline: a stall, retried from the last byte received.
  for (CURL* easy : stalled) Finish(easy, CURLE_OPERATION_TIMEDOUT);
}

int CurlFetcher::PollTimeoutMs() const {
  int64_t ms = running_.empty() ? 1000 : 100;  // with transfers running: notice stalls in time
  if (!delayed_.empty()) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        delayed_.begin()->first - Clock::now());
    ms = std::min<int64_t>(ms, std::max<int64_t>(wait.count(), 0));
  }
  if (!background_.empty() && running_foreground_ == 0) {  // wake when the linger ends
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(busy_until_ - Clock::now());
    ms = std::min<int64_t>(ms, std::max<int64_t>(wait.count() + 1, 0));
  }
  return static_cast<int>(ms);
}

void CurlFetcher::Loop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) break;
    }
    StartQueued();
    StartDue();
    StartBackground();
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg == CURLMSG_DONE) Finish(msg->easy_handle, msg->data.result);
    }
    EndStalled();
    StartBackground();  // into the room finished transfers left
    curl_multi_poll(multi_, nullptr, 0, PollTimeoutMs(), nullptr);
  }
  // Fail what is still running, waiting or queued, so every callback runs exactly once.
  const FetchResult cancelled = FetchResult::Of(FetchOutcome::kCancelled, "fetcher is stopping");
  for (CURL* easy : std::set<CURL*>(running_)) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);  // cleans up its easy handle
    curl_multi_remove_handle(multi_, easy);
    t->done(cancelled, std::string());
  }
  running_.clear();
  for (auto& [when, t] : delayed_) t->done(cancelled, std::string());
  delayed_.clear();
  for (auto& t : background_) t->done(cancelled, std::string());
  background_.clear();
  std::deque<std::unique_ptr<Transfer>> queued;
  {
    MutexLock lock(&mu_);
    queued.swap(queue_);
  }
  for (auto& t : queued) t->done(cancelled, std::string());
}

}  // namespace

Result<std::unique_ptr<Fetcher>> Fetcher::Create(const FetchOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<Fetcher>(std::make_unique<CurlFetcher>(options));
}

}  // namespace datumfs
