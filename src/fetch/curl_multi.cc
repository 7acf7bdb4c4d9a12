// The Fetcher: one thread runs a libcurl multi handle. Submit() queues a request and wakes the
// loop (curl_multi_wakeup); the loop adds queued transfers, drives them, and completes the
// finished ones. The multi handle keeps a connection cache, so range requests to one host
// reuse connections.
#include <curl/curl.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "datumfs/fetch.h"
#include "datumfs/redact.h"

namespace datumfs {
namespace {

struct Transfer {
  RangeRequest request;
  FetchDone done;
  CURL* easy = nullptr;
  std::string body;
  std::string content_range;
  bool overflow = false;  // the server sent more than asked for
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (t->body.size() + bytes > t->request.length) {
    t->overflow = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") t->content_range.clear();  // a new response (redirects)
  constexpr std::string_view kName = "content-range:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kName) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
        v.remove_suffix(1);
      }
      t->content_range = std::string(v);
    }
  }
  return size * n;
}

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
  bool Start(std::unique_ptr<Transfer> t);
  void Finish(CURL* easy, CURLcode result);

  const FetchOptions options_;
  CURLM* multi_;
  std::mutex mu_;  // guards queue_ and stopping_
  std::deque<std::unique_ptr<Transfer>> queue_;
  bool stopping_ = false;
  std::set<CURL*> running_;  // fetch thread only
  std::atomic<uint64_t> requests_{0}, bytes_{0}, errors_{0};
  std::thread thread_;  // last: starts after everything above exists
};

CurlFetcher::CurlFetcher(const FetchOptions& options)
    : options_(options), multi_(curl_multi_init()) {
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
  thread_ = std::thread([this] { Loop(); });
}

CurlFetcher::~CurlFetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

void CurlFetcher::Submit(RangeRequest request, FetchDone done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(t));
      curl_multi_wakeup(multi_);
      return;
    }
  }
  t->done(Status::Errno(ECANCELED, "fetcher is stopping"), std::string());
}

FetchCounters CurlFetcher::counters() const {
  return FetchCounters{requests_.load(), bytes_.load(), errors_.load()};
}

bool CurlFetcher::Start(std::unique_ptr<Transfer> t) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      t->request.deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) {
    ++errors_;
    t->done(Status::Errno(EIO, RedactUrl(t->request.url), "deadline passed before the request"),
            std::string());
    return false;
  }
  CURL* easy = curl_easy_init();
  t->easy = easy;
  t->body.reserve(t->request.length);
  std::string range = std::to_string(t->request.offset) + "-" +
                      std::to_string(t->request.offset + t->request.length - 1);
  curl_easy_setopt(easy, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_RANGE, range.c_str());  // copied by libcurl
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(left, options_.connect_timeout).count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "datumfs/" DATUMFS_VERSION);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  curl_multi_add_handle(multi_, easy);
  running_.insert(easy);
  ++requests_;
  t.release();  // owned through CURLOPT_PRIVATE until Finish()
  return true;
}

void CurlFetcher::StartQueued() {
  std::deque<std::unique_ptr<Transfer>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued.swap(queue_);
  }
  for (auto& t : queued) Start(std::move(t));
}

void CurlFetcher::Finish(CURL* easy, CURLcode result) {
  Transfer* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  std::unique_ptr<Transfer> t(raw);
  curl_multi_remove_handle(multi_, easy);
  running_.erase(easy);
  long http_status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
  curl_easy_cleanup(easy);
  bytes_ += t->body.size();
  Status status;
  if (t->overflow) {
    status = Status::Errno(EIO, RedactUrl(t->request.url), "server sent more bytes than asked for");
  } else if (result != CURLE_OK) {
    status = Status::Errno(EIO, RedactUrl(t->request.url), curl_easy_strerror(result));
  } else {
    status = CheckRangeResponse(t->request, http_status, t->content_range, t->body.size());
  }
  if (!status.ok()) {
    ++errors_;
    t->body.clear();
  }
  t->done(status, std::move(t->body));
}

void CurlFetcher::Loop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    StartQueued();
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg == CURLMSG_DONE) Finish(msg->easy_handle, msg->data.result);
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
  // Fail what is still running or queued, so every callback runs exactly once.
  Status cancelled = Status::Errno(ECANCELED, "fetcher is stopping");
  for (CURL* easy : std::set<CURL*>(running_)) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);
    curl_multi_remove_handle(multi_, easy);
    curl_easy_cleanup(easy);
    t->done(cancelled, std::string());
  }
  running_.clear();
  std::deque<std::unique_ptr<Transfer>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
