// What a finished attempt means: pure functions from what the server answered (status, headers,
// length) to one FetchError, and the one conversion of a FetchError into the FetchResult a
// caller gets (include/datumfs/fetch.h). Nothing here touches libcurl or the clock.
#ifndef DATUMFS_FETCH_CLASSIFY_H_
#define DATUMFS_FETCH_CLASSIFY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "datumfs/fetch.h"

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
  kReplaced,    // 412, 416, or an ETag/size that changed: the object is another one now
  kProtocol,    // a response that does not fit the request
  kNoRanges,    // a 200 with the whole object to a range request: the server ignores Range
  kBadUrl,      // not an http(s) URL, or not a URL at all: trying again cannot help
  kTls,         // an untrusted, expired or misnamed certificate, or no CA bundle: nor here
  kProxy,       // the proxy wants credentials or refuses the tunnel: nor here
  kCancelled,   // the fetcher is stopping
};

// Whether another attempt (resuming after the bytes that arrived intact) may succeed.
bool IsRetryable(FetchError e);

// What one attempt's response said before its body (libcurl's accessors read it).
struct ResponseHead {
  long status = 0;                         // of the last response (redirects followed)
  std::string_view content_range;          // "" if absent
  std::optional<uint64_t> content_length;  // nullopt if not announced
};

struct Verdict {
  FetchError error = FetchError::kNone;
  std::string why;  // for a log line: names the redacted URL and the range; "" if kNone
  bool ok() const { return error == FetchError::kNone; }
};

// Whether `head` answers `asked` (the part of the request this attempt asks for): a 206 of
// exactly that range of an object of the manifest's size, or a 200 only when the range is the
// whole object and the announced length is the object's (a short error page sent with 200 is
// never a prefix of the object). A 200 with the whole object to a smaller range is kNoRanges.
// An error status is classified by its code.
Verdict ClassifyHead(const RangeRequest& asked, const ResponseHead& head);

// ClassifyHead, and then whether `body_bytes` is the range's length: a body cut short is a
// connection that broke (retried, resuming); one longer than asked is a protocol error. A 200
// without a length to a request for the whole object is judged by the body's length alone.
Verdict ClassifyResponse(const RangeRequest& asked, const ResponseHead& head,
                         uint64_t body_bytes);

// The edge of the fetch module: what a caller gets for a request that ended with `error`
// (kNone: success) and why.
FetchResult ResultOf(FetchError error, std::string why);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_CLASSIFY_H_
