// The Fetcher: one thread runs a libcurl multi handle. Submit() queues a request and wakes the
// loop (curl_multi_wakeup); the loop adds queued transfers, drives them, and completes the
// finished ones. The multi handle keeps a connection cache, so range requests to one host
// reuse connections; a share handle keeps TLS sessions, so a new connection to a host resumes
// one (a shorter handshake) instead of starting over. Both are used on the fetch thread only.
//
// A transfer that fails in a way worth retrying (connection error, stall, 5xx, 429, a
// response that does not fit) is tried again after a backoff with full jitter (or the
// server's Retry-After), resuming after the last byte that arrived intact, until its
// deadline. Waiting transfers sit in a time-ordered queue on the loop's thread.
#include <curl/curl.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "base/mutex.h"
#include "datumfs/fetch.h"
#include "datumfs/redact.h"
#include "fetch/proxy.h"
#include "fetch/retry.h"
#include "fetch/tls.h"

namespace datumfs {
namespace {

using Clock = std::chrono::steady_clock;

struct Transfer {
  RangeRequest request;
  FetchDone done;
  std::string body;             // bytes received so far, from request.offset on (no sink)
  uint64_t received = 0;        // bytes of the request received so far
  uint64_t attempt_start = 0;   // `received` when this attempt began
  int attempt = 0;
  std::string last_error;
  // The ETag of the response the bytes before attempt_start came from: a resumed attempt
  // must continue that same response, never splice another version onto it.
  std::string prefix_etag;
  // This attempt's response.
  long status = 0;  // from the status line
  std::string content_range;
  std::string retry_after;
  std::string etag;
  std::optional<uint64_t> content_length;
  bool body_started = false;
  bool whole = false;       // a 200 with the whole object: `skip` bytes are dropped first
  uint64_t skip = 0;
  bool got_all = false;     // (whole) the range has arrived; the rest was not read
  bool no_ranges = false;   // a whole object that was not wanted (!request.whole_body_ok)
  bool overflow = false;  // the server sent more than asked for
  Clock::time_point last_progress;  // when bytes last arrived (or the attempt began)
  curl_slist* headers = nullptr;    // this attempt's request headers
  char error[CURL_ERROR_SIZE] = {};  // libcurl's words for this attempt's failure
  std::string url;                   // the URL of the failed attempt (redirects followed)
  std::string host;                  // its host:port
  long connect_code = 0;             // a proxy's answer to CONNECT, if one was asked
  bool handshake_unfinished = false;  // TCP connected, TLS handshake not done
  std::string ca_file;               // the CA bundle the failed attempt used
  std::string reported_problem;      // (kTls, kProxy) what is wrong and what to do: logged once
  ~Transfer() { curl_slist_free_all(headers); }

  // What this attempt asks for: the part of the request not received yet.
  RangeRequest Remaining() const {
    RangeRequest r = request;
    r.offset += attempt_start;
    r.length -= attempt_start;
    return r;
  }
};

bool HeadersFit(const Transfer& t, long http_status);

// The first body bytes of an attempt: a 200 to a range request is the whole object (if its
// length says so), read from its start. Bytes for a sink must be right before they are handed
// on: a response that does not fit is ended here (and retried).
bool StartBody(Transfer* t) {
  t->body_started = true;
  RangeRequest r = t->Remaining();
  if (t->status != 200 && t->status != 206) {
    t->skip = UINT64_MAX;  // an error page: dropped, judged by its status once it has ended
    return true;
  }
  bool partial = r.offset != 0 || r.length != r.object_size;
  if (t->status != 200 || !partial || t->content_length != r.object_size) {
    return !t->request.sink || HeadersFit(*t, t->status);
  }
  if (!t->request.whole_body_ok) {
    t->no_ranges = true;
    return false;
  }
  t->whole = true;
  t->skip = r.offset;
  return true;
}

void Deliver(Transfer* t, const char* data, size_t bytes) {
  if (t->request.sink) {
    t->request.sink(t->request.offset + t->received, std::string_view(data, bytes));
  } else {
    t->body.append(data, bytes);
  }
  t->received += bytes;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (!t->body_started && !StartBody(t)) return 0;  // aborts the transfer
  t->last_progress = Clock::now();
  size_t skipped = static_cast<size_t>(std::min<uint64_t>(t->skip, bytes));
  t->skip -= skipped;
  size_t useful = bytes - skipped;
  uint64_t wanted = t->request.length - t->received;
  if (useful > wanted) {
    if (!t->whole) {
      t->overflow = true;
      return 0;
    }
    Deliver(t, data + skipped, static_cast<size_t>(wanted));
    t->got_all = true;
    return 0;  // ends the transfer: the rest of the object is not needed
  }
  Deliver(t, data + skipped, useful);
  if (t->whole && t->received == t->request.length) {
    t->got_all = true;
    return bytes == 0 ? bytes : 0;
  }
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (redirects): forget the last one's
    t->content_range.clear();
    t->retry_after.clear();
    t->etag.clear();
    t->content_length.reset();
    size_t space = line.find(' ');
    t->status = space == std::string_view::npos ? 0 : std::atol(line.data() + space + 1);
  }
  if (auto v = HeaderValue(line, "content-length")) {
    uint64_t length = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), length);
    if (ec == std::errc() && end == v->data() + v->size()) t->content_length = length;
  }
  if (auto v = HeaderValue(line, "content-range")) t->content_range = std::string(*v);
  if (auto v = HeaderValue(line, "retry-after")) t->retry_after = std::string(*v);
  if (auto v = HeaderValue(line, "etag")) t->etag = std::string(*v);
  return size * n;
}

// True if a resumed attempt's response is not the one its first bytes came from.
bool ChangedVersion(const Transfer& t) {
  bool success = t.status == 200 || t.status == 206;
  return success && t.attempt_start > 0 && t.etag != t.prefix_etag;
}

// True if this attempt's bytes are the ones asked for, so far (they may have been cut short).
// A 200 fits only when it announced exactly the object's length: a short error page sent
// with 200 is never a prefix of the object.
bool HeadersFit(const Transfer& t, long http_status) {
  RangeRequest r = t.Remaining();
  if (t.overflow || ChangedVersion(t)) return false;
  if (t.whole) return true;  // what was kept was counted from the object's first byte
  if (http_status == 200) {
    return r.offset == 0 && r.length == r.object_size && t.content_length == r.object_size;
  }
  if (http_status != 206) return false;
  std::string expected = "bytes " + std::to_string(r.offset) + "-" +
                         std::to_string(r.offset + r.length - 1) + "/";
  return t.content_range.rfind(expected, 0) == 0;
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
  void StartDue();
  // Starts waiting background requests while there is room for them.
  void StartBackground();
  bool Start(std::unique_ptr<Transfer> t);
  void Finish(CURL* easy, CURLcode result);
  // Classifies this attempt; FetchError::kNone if the whole request is done.
  FetchError Judge(Transfer& t, CURLcode result, long http_status);
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
  std::atomic<uint64_t> requests_{0}, bytes_{0}, errors_{0}, retries_{0}, tls_errors_{0};
  std::thread thread_;  // last: starts after everything above exists
};

CurlFetcher::CurlFetcher(const FetchOptions& options)
    : options_(options), share_(curl_share_init()), multi_(curl_multi_init()) {
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
  t->done(Status::Errno(ECANCELED, "fetcher is stopping"), std::string());
}

FetchCounters CurlFetcher::counters() const {
  return FetchCounters{requests_.load(), bytes_.load(), errors_.load(), retries_.load(),
                       tls_errors_.load()};
}

bool CurlFetcher::Start(std::unique_ptr<Transfer> t) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t->request.deadline -
                                                                    Clock::now());
  if (left.count() <= 0) {
    if (t->last_error.empty()) t->last_error = "deadline passed before the request";
    Fail(std::move(t), FetchError::kTimedOut);
    return false;
  }
  CURL* easy = curl_easy_init();
  RangeRequest r = t->Remaining();
  t->content_range.clear();
  t->retry_after.clear();
  t->etag.clear();
  t->content_length.reset();
  t->overflow = false;
  t->status = 0;
  t->body_started = t->whole = t->got_all = t->no_ranges = false;
  t->skip = 0;
  t->last_progress = Clock::now();
  std::string range = std::to_string(r.offset) + "-" + std::to_string(r.offset + r.length - 1);
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_RANGE, range.c_str());  // copied by libcurl
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // HTTP/1.1 even where the store offers HTTP/2 (libcurl's default for https): multiplexing a
  // stream's parallel ranges onto one connection was slower and cost more CPU, and small files
  // gained nothing over kept-alive connections (doc/benchmarks.md, "HTTP/2").
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // Only http and https, for the URL and for any redirect: never file://, gopher://, dict://.
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(left, options_.connect_timeout).count()));
  // A stall is a transfer slower than this for that long: retried, not waited out.
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_time.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "datumfs/" DATUMFS_VERSION);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  t->error[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  ApplyTls(easy, options_.tls);
  curl_easy_setopt(easy, CURLOPT_SHARE, share_);
  curl_slist* headers = nullptr;
  std::string if_match = t->prefix_etag;
  if (auto it = etags_.find(ObjectIdentity(r.url)); it != etags_.end()) if_match = it->second;
  if (!if_match.empty()) headers = curl_slist_append(headers, ("If-Match: " + if_match).c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  t->headers = headers;
  if (!t->request.sink) t->body.reserve(t->request.length);
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

FetchError CurlFetcher::Judge(Transfer& t, CURLcode result, long http_status) {
  std::string what = RedactUrl(t.request.url);
  if (t.overflow) {
    t.last_error = what + ": server sent more bytes than asked for";
    return FetchError::kProtocol;
  }
  if (t.no_ranges) {
    t.last_error = what + ": the server ignores Range (HTTP 200 with the whole object)";
    return FetchError::kNoRanges;
  }
  if (ChangedVersion(t)) {
    t.last_error = what + ": the object changed while it was read (ETag " +
                   (t.prefix_etag.empty() ? "none" : t.prefix_etag) + ", now " +
                   (t.etag.empty() ? "none" : t.etag) + ")";
    return FetchError::kReplaced;
  }
  if (t.got_all) result = CURLE_OK;  // we ended it ourselves, with the range complete
  if (result == CURLE_OPERATION_TIMEDOUT) {
    bool past_deadline = Clock::now() >= t.request.deadline;
    t.last_error = what + (past_deadline ? ": no answer before the read's deadline"
                                         : ": transfer stalled");
    if (t.handshake_unfinished) {  // retried all the same: the server may just be slow
      std::string problem = "the TLS handshake with " + t.host +
                            " did not finish (an HTTPS server there? a firewall in between?)";
      if (reported_.insert(problem).second) spdlog::warn("{}", problem);
      t.last_error = what + ": " + problem;
    }
    return past_deadline ? FetchError::kTimedOut : FetchError::kStalled;
  }
  if (result == CURLE_UNSUPPORTED_PROTOCOL || result == CURLE_URL_MALFORMAT) {
    t.last_error = what + ": " + curl_easy_strerror(result) +
                   " (only http and https URLs are fetched, redirects included)";
    return FetchError::kBadUrl;
  }
  if (auto problem = PermanentTlsProblem(result, t.error, t.host, t.ca_file)) {
    t.reported_problem = *problem;
    t.last_error = what + ": " + *problem;
    return FetchError::kTls;
  }
  if (auto proxy = DescribeProxyProblem(result, t.connect_code, t.error, t.url)) {
    t.last_error = what + ": " + proxy->message;
    if (!proxy->permanent) return FetchError::kConnection;
    t.reported_problem = proxy->message;
    return FetchError::kProxy;
  }
  if (result != CURLE_OK) {
    t.last_error = what + ": " + curl_easy_strerror(result);
    return FetchError::kConnection;
  }
  RangeRequest r = t.Remaining();
  const uint64_t got = t.received - t.attempt_start;
  Status s = t.whole ? (got == r.length ? Status()
                                        : Status::Errno(EIO, what, "whole object cut short"))
                     : CheckRangeResponse(r, http_status, t.content_range, got);
  if (s.errno_value() == ESTALE) {
    t.last_error = s.message();
    return FetchError::kReplaced;
  }
  if (s.ok() && !t.etag.empty()) {
    auto [it, first] = etags_.emplace(ObjectIdentity(t.request.url), t.etag);
    if (!first && it->second != t.etag) {
      t.last_error = what + ": the object was replaced (ETag " + it->second + ", now " + t.etag + ")";
      return FetchError::kReplaced;
    }
  }
  if (s.ok()) return FetchError::kNone;
  t.last_error = s.message();
  bool http_error = http_status != 200 && http_status != 206;
  return http_error ? ClassifyHttpStatus(http_status) : FetchError::kProtocol;
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
  long http_status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
  if (result != CURLE_OK) {  // for the words of a TLS or proxy failure
    char* url = nullptr;
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
    curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &t->connect_code);
    // libcurl records the peer's port once TCP has connected; a timeout while still
    // "connecting" after that is the TLS handshake.
    long peer_port = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &peer_port);
    t->url = url ? url : "";
    t->host = UrlHostPort(t->url);
    t->handshake_unfinished = result == CURLE_OPERATION_TIMEDOUT && peer_port > 0 &&
                              t->url.rfind("https://", 0) == 0 &&
                              std::string_view(t->error).rfind("Connection timed out", 0) == 0;
    t->ca_file = CaBundleUsed(easy, options_.tls);
  }
  curl_easy_cleanup(easy);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  bytes_ += t->received - t->attempt_start;
  FetchError error = Judge(*t, result, http_status);
  if (error == FetchError::kNone) {
    t->done(Status(), std::move(t->body));
    return;
  }
  // Keep what arrived intact (a cut-short 206 of the right range); drop anything else.
  if (!HeadersFit(*t, http_status) || (t->request.sink && !t->whole && http_status != 206)) {
    t->body.resize(t->attempt_start);  // (a sink has had them: only a fitting 206 or whole)
    t->received = t->attempt_start;
  }
  if (error == FetchError::kReplaced) {  // none of it can be trusted now
    t->body.clear();
    t->received = 0;
  }
  if (!IsRetryable(error) || t->attempt + 1 >= options_.max_attempts) {
    return Fail(std::move(t), error);
  }
  auto delay = BackoffDelay(t->attempt, options_.backoff_base, options_.backoff_cap,
                            std::uniform_real_distribution<double>(0, 1)(random_));
  if (error == FetchError::kThrottled) {
    if (auto after = ParseRetryAfter(t->retry_after)) delay = *after;
  }
  Clock::time_point when = Clock::now() + delay;
  if (when >= t->request.deadline) return Fail(std::move(t), error);
  ++t->attempt;
  ++retries_;
  if (t->received > t->attempt_start) t->prefix_etag = t->etag;  // the response kept from
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
  int errno_value = error == FetchError::kRefused    ? EACCES
                    : error == FetchError::kReplaced ? ESTALE
                    : error == FetchError::kNoRanges ? ENOTSUP
                    : error == FetchError::kTls      ? EPROTO
                    : error == FetchError::kProxy    ? EPROTO
                                                     : EIO;
  t->done(Status::Errno(errno_value, message), std::string());
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
