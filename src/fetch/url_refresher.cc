#include "datumfs/url_refresher.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <ctime>

#include "datumfs/json_depth.h"
#include "datumfs/quote.h"
#include "datumfs/redact.h"
#include "fetch/input_request_url.h"
#include "fetch/proxy.h"
#include "fetch/tls.h"
#include "fetch/url_expiry.h"

namespace datumfs {
namespace {

int AbortIfStopping(void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(abort)->load() ? 1 : 0;
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The input_request answer: [ { "name", "files": [ { "filename", "url", ... } ] } ].
Result<std::map<std::string, std::string>> ParseAnswer(const std::string& body,
                                                       const std::string& what) {
  if (JsonNestingDepth(body) > kMaxJsonDepth) {
    return Status::Errno(EIO, what, "bad JSON: nested deeper than " +
                                        std::to_string(kMaxJsonDepth) + " levels");
  }
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    return Status::Errno(EIO, what, std::string("bad JSON: ") +
                                        rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsArray()) return Status::Errno(EIO, what, "answer is not a list of inputs");
  std::map<std::string, std::string> urls;
  for (const auto& input : doc.GetArray()) {
    if (!input.IsObject() || !input.HasMember("files") || !input["files"].IsArray()) continue;
    for (const auto& f : input["files"].GetArray()) {
      if (f.IsObject() && f.HasMember("filename") && f["filename"].IsString() &&
          f.HasMember("url") && f["url"].IsString()) {
        urls[f["filename"].GetString()] = f["url"].GetString();
      }
    }
  }
  return urls;
}

}  // namespace

UrlRefresher::UrlRefresher(InputRequestApi api, RefreshOptions options)
    : api_(std::move(api)), options_(options) {
  worker_ = std::thread([this] { WorkLoop(); });
}

UrlRefresher::~UrlRefresher() { Stop(); }

void UrlRefresher::Stop() {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    abort_ = true;
    for (auto& [id, state] : inputs_) {
      for (Waiter& w : state.waiters) waiters.push_back(std::move(w));
      state.waiters.clear();
    }
  }
  cv_.notify_all();
  worker_.join();
  for (Waiter& w : waiters) w.done(Status::Errno(ECANCELED, "unmounting"), "");
}

std::string UrlRefresher::LatestLocked(const FileUrl& file) {
  const InputState& state = inputs_[file.input_id];
  auto it = state.urls.find(file.filename);
  return it != state.urls.end() ? it->second : file.url;
}

void UrlRefresher::Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) {
  std::unique_lock<std::mutex> lock(mu_);
  std::string latest = LatestLocked(file);
  bool refused = refused_url != nullptr && *refused_url == latest;
  std::optional<int64_t> expires = UrlExpiresAt(latest);
  bool expiring = expires && *expires - options_.margin.count() <= std::time(nullptr);
  InputState& state = inputs_[file.input_id];
  bool too_soon = std::chrono::steady_clock::now() - state.last_refresh < options_.min_interval;
  if (stopping_) {
    lock.unlock();
    return done(Status::Errno(ECANCELED, "unmounting"), "");
  }
  if ((!refused && !expiring) || api_.url.empty() || (too_soon && !state.refreshing)) {
    lock.unlock();
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
    cv_.notify_one();
  }
}

void UrlRefresher::WorkLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto [id, name] = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Result<std::map<std::string, std::string>> fresh = Request(id, name);
    lock.lock();
    InputState& state = inputs_[id];
    state.refreshing = false;
    state.last_refresh = std::chrono::steady_clock::now();
    if (fresh) {
      ++refreshes_;
      for (auto& [file, url] : fresh.value()) state.urls[file] = url;
      spdlog::info("input {}: {} fresh URLs from input_request", Quote(name), fresh.value().size());
    } else {
      spdlog::warn("{}", fresh.error().message());
    }
    std::vector<Waiter> waiters;
    waiters.swap(state.waiters);
    std::vector<std::pair<Status, std::string>> answers;
    for (const Waiter& w : waiters) {
      std::string url = LatestLocked(w.file);
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
    lock.unlock();
    for (size_t i = 0; i < waiters.size(); ++i) waiters[i].done(answers[i].first, answers[i].second);
    lock.lock();
  }
}

Result<std::map<std::string, std::string>> UrlRefresher::Request(const std::string& input_id,
                                                                 const std::string& input_name) {
  std::string what = "input_request for input " + Quote(input_name);
  const std::string url = InputRequestUrl(api_.url, input_id);
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : api_.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  std::string body;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, api_.method.c_str());
  if (api_.method == "POST") curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "datumfs/" DATUMFS_VERSION);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &AbortIfStopping);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &abort_);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  ApplyTls(easy, options_.tls);
  CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  long connect_code = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  const std::string bundle = CaBundleUsed(easy, options_.tls);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  if (auto problem = PermanentTlsProblem(rc, error, UrlHostPort(api_.url), bundle)) {
    return Status::Errno(EIO, what, *problem);
  }
  if (auto proxy = DescribeProxyProblem(rc, connect_code, error, url)) {
    return Status::Errno(EIO, what, proxy->message);
  }
  if (rc != CURLE_OK) return Status::Errno(EIO, what, curl_easy_strerror(rc));
  if (status != 200) return Status::Errno(EIO, what, "HTTP " + std::to_string(status));
  return ParseAnswer(body, what);
}

}  // namespace datumfs
