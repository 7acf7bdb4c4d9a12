// Fetching byte ranges of objects over HTTP(S) from pre-signed URLs.
//
// One Fetcher runs one libcurl multi event loop on its own thread; connections are reused
// across requests. Submit() never blocks on the network: the completion callback runs later
// on the fetch thread. Every response is checked (status, Content-Range, length) before its
// bytes are handed on; anything unexpected is a failed FetchResult naming the redacted URL,
// never wrong bytes. Thread-safe.
#ifndef DATUMFS_FETCH_H_
#define DATUMFS_FETCH_H_

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/status.h"

namespace datumfs {

// Which certificate authorities a TLS peer must be signed by. Verification is always on.
struct TlsOptions {
  std::string ca_file;  // a PEM bundle trusted instead of the system's; empty: libcurl's default
  std::string ca_path;  // a directory of hashed certificates (SSL_CERT_DIR); empty: none
};

struct FetchOptions {
  TlsOptions tls;
  // Longest time to wait for a TCP/TLS connection to be set up.
  std::chrono::milliseconds connect_timeout{10000};
  // Most connections open to one host at once: room for 16 readers' requests and for the
  // files fetched ahead of them (doc/benchmarks.md).
  long max_host_connections = 48;
  // A transfer slower than low_speed_bytes per second for stall_time is a stall: retried.
  long low_speed_bytes = 1024;
  std::chrono::seconds stall_time{10};
  // Retries: full jitter over backoff_base * 2^attempt, capped; at most max_attempts tries in
  // all, and never past the request's deadline.
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{5000};
  int max_attempts = 8;
  // Background requests (bulk readers such as `datumfs prefetch`) yield to the others: at
  // most background_when_busy of them run while any other request is running or ran within
  // busy_linger, and at most background_transfers otherwise, which leaves connections free
  // for a job's first reads.
  int background_transfers = 12;
  int background_when_busy = 2;
  std::chrono::milliseconds busy_linger{1000};
  // Site cache nodes (nginx with packaging/site-cache/, doc/site-cache.md), as base URLs
  // ("http://10.0.0.5:8380"). A request with a site_key goes to the node its key hashes to, with
  // the signed URL in X-Datumfs-Url; an attempt through a node that fails rests the node
  // (1 s, doubling to 60 s) and goes to the store directly. Empty: none.
  std::vector<std::string> site_caches;
};

struct RangeRequest {
  std::string url;           // signed: never logged as is
  uint64_t offset = 0;
  uint64_t length = 0;       // REQUIRES: > 0 and offset + length <= object_size
  uint64_t object_size = 0;  // from the manifest
  std::chrono::steady_clock::time_point deadline;  // the transfer is abandoned after this
  // A server that ignores Range answers 200 with the whole object. Without this flag that
  // fails at once with ENOTSUP; with it the body is read from its start, the bytes before
  // `offset` are dropped, and the transfer ends once the range has arrived.
  bool whole_body_ok = false;
  // When set, bytes are handed here as they arrive (offset in the object, bytes) instead of
  // being collected: FetchDone then gets an empty body. Called on the fetch thread.
  std::function<void(uint64_t offset, std::string_view bytes)> sink;
  // For a bulk reader: started only when the job's own requests leave room (FetchOptions).
  bool background = false;
  // The object's key at a site cache (its block cache key: a datum id); empty: straight to the
  // store always.
  std::string site_key;

  bool IsWholeObject() const { return offset == 0 && length == object_size; }
};

// What the end of a request means to its caller: the one thing callers branch on.
enum class FetchOutcome {
  kOk,
  kUrlRefused,  // the store refused the URL (400/401/403: expired, revoked): a fresh one may help
  kReplaced,    // the object is another one now (412, 416, a changed ETag or size)
  kNoRanges,    // the server ignores Range (see RangeRequest::whole_body_ok)
  kReported,    // a TLS or proxy problem trying again cannot fix (an untrusted, expired or
                // misnamed certificate, no CA bundle; a proxy that wants credentials or refuses
                // the tunnel), logged once per host by the fetcher, with what to do
  kCancelled,   // the fetcher is stopping
  kFailed,      // anything else, after retries until the deadline
};

// The outcome, and unless kOk why: a Status naming the redacted URL, whose errno is EACCES,
// ESTALE, ENOTSUP, EPROTO, ECANCELED or EIO in the order of the outcomes above.
struct FetchResult {
  FetchOutcome outcome = FetchOutcome::kOk;
  Status status;
  uint64_t site_cache_bytes = 0;  // of a success's body: bytes received through a site cache
  bool ok() const { return outcome == FetchOutcome::kOk; }
  // An ended request's result: its status carries the errno the outcome stands for (EACCES,
  // ESTALE, ENOTSUP, EPROTO, ECANCELED, EIO) and `why`; kOk gives an ok status.
  static FetchResult Of(FetchOutcome outcome, std::string_view why);
};

// Called exactly once, on the fetch thread (or inline from Submit/~Fetcher when the request
// cannot start). On success `body` holds exactly request.length bytes (none with a sink).
using FetchDone = std::function<void(const FetchResult& result, std::string&& body)>;

struct SiteCacheCounters {
  std::string node;       // its base URL
  uint64_t requests = 0;  // attempts sent through it
  uint64_t bytes = 0;     // body bytes they received (counted in FetchCounters::bytes too)
  uint64_t errors = 0;    // attempts that failed by its fault (each rests it; the store then)
};

struct FetchCounters {
  uint64_t requests = 0;
  uint64_t bytes = 0;  // body bytes received
  uint64_t errors = 0;
  uint64_t retries = 0;
  uint64_t tls_errors = 0;  // transfers failed by a TLS problem trying again cannot fix
  std::vector<SiteCacheCounters> site_caches;  // one per FetchOptions::site_caches node
};

class Fetcher {
 public:
  static Result<std::unique_ptr<Fetcher>> Create(const FetchOptions& options);
  virtual ~Fetcher() = default;  // stops the thread; pending requests fail with ECANCELED

  virtual void Submit(RangeRequest request, FetchDone done) = 0;
  virtual FetchCounters counters() const = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_FETCH_H_
