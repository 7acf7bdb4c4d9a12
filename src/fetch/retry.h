// Pure decisions of the fetcher: what kind of failure a response is, whether to try again,
// and how long to wait first.
#ifndef DATUMFS_FETCH_RETRY_H_
#define DATUMFS_FETCH_RETRY_H_

#include <chrono>
#include <optional>
#include <string_view>

namespace datumfs {

enum class FetchError {
  kNone,
  kConnection,  // refused, reset, truncated: try again, resuming
  kStalled,     // slower than the low-speed limit for too long
  kTimedOut,    // the read's deadline passed
  kServer,      // 5xx
  kThrottled,   // 429
  kRefused,     // 400/401/403: the URL (signature) was refused; a fresh URL may help
  kMissing,     // 404/410
  kReplaced,    // 412, or an ETag/size that changed: the object is another one now
  kProtocol,    // a response that does not fit the request
  kNoRanges,    // a 200 with the whole object to a range request: the server ignores Range
  kBadUrl,      // not an http(s) URL, or not a URL at all: trying again cannot help
  kTls,         // an untrusted, expired or misnamed certificate, or no CA bundle: nor here
  kProxy,       // the proxy wants credentials or refuses the tunnel: nor here
};

bool IsRetryable(FetchError e);

// The error kind of an HTTP status that is not a success.
FetchError ClassifyHttpStatus(long status);

// Full jitter: uniform in [0, min(cap, base * 2^attempt)]; `unit_random` is in [0, 1).
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit_random);

// Retry-After as delay-seconds ("120"); HTTP dates are not honoured (nullopt).
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

// The value of header `name` (lower case, without the colon) in the raw header `line`, or
// nullopt. Surrounding blanks and the line end are trimmed.
std::optional<std::string_view> HeaderValue(std::string_view line, std::string_view name);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_RETRY_H_
