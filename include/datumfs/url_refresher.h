// Fresh pre-signed URLs through Valohai's input_request API (shared/seeds/000): POST
// "<url>&input=<input_id>" with the api.json headers answers every file of that input with a
// new URL. URLs are refreshed shortly before they expire (UrlExpiresAt) or when the store
// refuses one. One refresh per input at a time: every reader that needs it waits for the same
// one. The Execution-Token and URL signatures never appear in a message. Thread-safe.
#ifndef DATUMFS_URL_REFRESHER_H_
#define DATUMFS_URL_REFRESHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "datumfs/fetch.h"
#include "datumfs/status.h"

namespace datumfs {

struct InputRequestApi {
  std::string method = "POST";
  std::string url;  // empty: no API, URLs cannot be refreshed
  std::vector<std::pair<std::string, std::string>> headers;  // secrets
};

struct RefreshOptions {
  // Refresh a URL this long before it expires.
  std::chrono::seconds margin{60};
  // An input is refreshed at most this often (a store that refuses fresh URLs too must not
  // cause a storm of refreshes).
  std::chrono::milliseconds min_interval{1000};
  // Longest wait for the API.
  std::chrono::milliseconds timeout{10000};
  // The CAs the API's certificate must be signed by.
  TlsOptions tls;
};

struct FileUrl {
  std::string input_id;
  std::string input_name;
  std::string filename;  // as in inputs.json ("dogs/000201.jpg")
  std::string url;       // from inputs.json
};

// Called once, maybe on the refresher's thread. On success `url` is the one to use.
using UrlDone = std::function<void(const Status& status, const std::string& url)>;

class UrlRefresher {
 public:
  UrlRefresher(InputRequestApi api, RefreshOptions options);
  ~UrlRefresher();  // Stop()s

  // Ends refreshing: a request in flight is abandoned, waiting and later Resolve()s get
  // ECANCELED. Call before the Fetcher goes (callbacks may submit fetches). Idempotent.
  void Stop();
  UrlRefresher(const UrlRefresher&) = delete;
  UrlRefresher& operator=(const UrlRefresher&) = delete;

  // The newest URL for `file`, after refreshing its input if that URL expires within the
  // margin, or if `refused_url` (when not null) is that URL: the store refused it.
  void Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done);

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

  std::string LatestLocked(const FileUrl& file);
  void WorkLoop();
  // POSTs input_request for one input: filename -> url, or why not.
  Result<std::map<std::string, std::string>> Request(const std::string& input_id,
                                                     const std::string& input_name);

  const InputRequestApi api_;
  const RefreshOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, InputState> inputs_;  // guarded by mu_; by input id
  std::deque<std::pair<std::string, std::string>> queue_;  // guarded by mu_: (id, name)
  bool stopping_ = false;                                  // guarded by mu_
  std::atomic<bool> abort_{false};  // read by the API request's progress callback
  std::atomic<uint64_t> refreshes_{0};
  std::thread worker_;  // last
};

}  // namespace datumfs

#endif  // DATUMFS_URL_REFRESHER_H_
