// Fresh pre-signed URLs through Valohai's input_request API (shared/seeds/000): POST
// "<url>&input=<input_id>" with the api.json headers answers every file of that input with a
// new URL. URLs are refreshed shortly before they expire (UrlExpiresAt) or when the store
// refuses one. One refresh per input at a time: every reader that needs it waits for the same
// one. The Execution-Token and URL signatures never appear in a message. Thread-safe.
#ifndef DATUMFS_URL_REFRESHER_H_
#define DATUMFS_URL_REFRESHER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
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

// Where a reader gets the URL to fetch a file from: the refresher, or a fake in tests.
class UrlSource {
 public:
  virtual ~UrlSource() = default;
  // The newest URL for `file`, after refreshing its input if that URL expires within the
  // margin, or if `refused_url` (when not null) is that URL: the store refused it.
  virtual void Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) = 0;
};

class UrlRefresher final : public UrlSource {
 public:
  UrlRefresher(InputRequestApi api, RefreshOptions options);
  ~UrlRefresher() override;  // Stop()s

  // Ends refreshing: a request in flight is abandoned, waiting and later Resolve()s get
  // ECANCELED. Call before the Fetcher goes (callbacks may submit fetches). Idempotent.
  void Stop();
  UrlRefresher(const UrlRefresher&) = delete;
  UrlRefresher& operator=(const UrlRefresher&) = delete;

  void Resolve(const FileUrl& file, const std::string* refused_url, UrlDone done) override;

  uint64_t refreshes() const;

 private:
  class Impl;  // url_refresher.cc
  std::unique_ptr<Impl> impl_;
};

}  // namespace datumfs

#endif  // DATUMFS_URL_REFRESHER_H_
