// One request on its way through libcurl, attempt after attempt: the bytes received so far,
// the easy handle of the running attempt, and the judgement of each attempt that ends. The
// fetcher (curl_fetcher.cc) owns the queues, the retries and the multi handle; this is what
// happens inside one transfer. Used on the fetch thread only.
#ifndef DATUMFS_FETCH_TRANSFER_H_
#define DATUMFS_FETCH_TRANSFER_H_

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "datumfs/fetch.h"
#include "fetch/classify.h"

namespace datumfs {

// What an attempt's response said, read through libcurl's accessors (CURLINFO_RESPONSE_CODE,
// CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, curl_easy_header) of the last response, redirects
// followed. Owns the strings ResponseHead points into.
struct ReceivedHead {
  long status = 0;
  std::string content_range;
  std::optional<uint64_t> content_length;
  std::string etag;
  std::chrono::seconds retry_after{0};  // 0 if none (CURLINFO_RETRY_AFTER)

  static ReceivedHead Of(CURL* easy);
  ResponseHead View() const { return ResponseHead{status, content_range, content_length}; }
};

struct Transfer {
  using Clock = std::chrono::steady_clock;

  RangeRequest request;
  FetchDone done;
  std::string body;             // bytes received so far, from request.offset on (no sink)
  uint64_t received = 0;        // bytes of the request received so far
  uint64_t attempt_start = 0;   // `received` when this attempt began
  int attempt = 0;
  std::string last_error;       // why the last attempt failed, for the caller
  // The ETag of the response the bytes before attempt_start came from: a resumed attempt
  // must continue that same response, never splice another version onto it.
  std::string prefix_etag;

  // Through which site cache node this attempt goes (-1: the store itself), and whether a node
  // failed this request already (then the store, for the rest of it).
  int node = -1;
  bool direct = false;
  uint64_t site_cache_bytes = 0;  // received through nodes, over all attempts

  // This attempt.
  CURL* easy = nullptr;
  ReceivedHead head;            // read when the body starts, or at the end if none came
  bool body_started = false;
  bool whole = false;       // a 200 with the whole object: `skip` bytes are dropped first
  uint64_t skip = 0;
  bool got_all = false;     // (whole) the range has arrived; the rest was not read
  bool no_ranges = false;   // a whole object that was not wanted (!request.whole_body_ok)
  bool overflow = false;    // the server sent more than asked for
  Clock::time_point last_progress;  // when bytes last arrived (or the attempt began)
  curl_slist* headers = nullptr;    // this attempt's request headers
  char error[CURL_ERROR_SIZE] = {};  // libcurl's words for this attempt's failure

  // Of a failed attempt, for the words of a TLS or proxy problem.
  std::string url;                   // the URL of the failed attempt (redirects followed)
  std::string host;                  // its host:port
  long connect_code = 0;             // a proxy's answer to CONNECT, if one was asked
  bool handshake_unfinished = false;  // TCP connected, TLS handshake not done
  std::string ca_file;               // the CA bundle the failed attempt used
  std::string reported_problem;      // (kTls, kProxy) what is wrong and what to do: logged once
  std::string warning;               // a problem worth one log line per host, though retried

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  // What this attempt asks for: the part of the request not received yet.
  RangeRequest Remaining() const;

  // Starts a new attempt: a new easy handle for the range still missing, with `if_match` (if
  // not empty), at most `left` to run. Owned by the transfer until EndAttempt. With `via` (a
  // site cache node's base URL), to via/<site_key> with the signed URL in X-Datumfs-Url.
  CURL* NewAttempt(const FetchOptions& options, CURLSH* share, std::chrono::milliseconds left,
                   const std::string& if_match, const std::string& via = "");
  // Reads what the ended attempt's response said and, if it failed (`result`), what the words
  // of a TLS or proxy problem need; then cleans up its handle.
  void EndAttempt(CURLcode result, const TlsOptions& tls);
  // What the ended attempt means. Sets last_error (and reported_problem, warning) if it failed.
  FetchError Judge(CURLcode result);
  // After a failed attempt: keeps what arrived intact (a cut-short 206 of the right range, or
  // the right part of a whole object), drops the rest; all of it if the object was replaced.
  void KeepIntactBytes(FetchError error);
  // True if this attempt's bytes are the ones asked for, so far (they may have been cut short).
  bool HeadFits() const;
};

}  // namespace datumfs

#endif  // DATUMFS_FETCH_TRANSFER_H_
