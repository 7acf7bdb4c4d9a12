#include "fetch/transfer.h"

#include <algorithm>

#include "base/buffer.h"
#include "datumfs/redact.h"
#include "fetch/proxy.h"
#include "fetch/tls.h"

namespace datumfs {
namespace {

std::string HeaderOf(CURL* easy, const char* name) {
  curl_header* h = nullptr;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h) return "";
  return h->value;
}

// The first body bytes of an attempt: a 200 to a range request is the whole object (if its
// length says so), read from its start. Bytes for a sink must be right before they are handed
// on: a response that does not fit is ended here (and retried).
bool StartBody(Transfer* t) {
  t->body_started = true;
  t->head = ReceivedHead::Of(t->easy);
  if (t->head.status != 200 && t->head.status != 206) {
    t->skip = UINT64_MAX;  // an error page: dropped, judged by its status once it has ended
    return true;
  }
  RangeRequest r = t->Remaining();
  if (ClassifyHead(r, t->head.View()).error != FetchError::kNoRanges) {
    return !t->request.sink || t->HeadFits();
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
  t->last_progress = Transfer::Clock::now();
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

// True if a resumed attempt's response is not the one its first bytes came from.
bool ChangedVersion(const Transfer& t) {
  bool success = t.head.status == 200 || t.head.status == 206;
  return success && t.attempt_start > 0 && t.head.etag != t.prefix_etag;
}

}  // namespace

ReceivedHead ReceivedHead::Of(CURL* easy) {
  ReceivedHead h;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &h.status);
  curl_off_t length = -1;
  curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length >= 0) h.content_length = static_cast<uint64_t>(length);
  h.content_range = HeaderOf(easy, "Content-Range");
  h.etag = HeaderOf(easy, "ETag");
  curl_off_t retry_after = 0;
  curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
  h.retry_after = std::chrono::seconds(std::max<curl_off_t>(retry_after, 0));
  return h;
}

Transfer::~Transfer() {
  if (easy) curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
}

RangeRequest Transfer::Remaining() const {
  RangeRequest r = request;
  r.offset += attempt_start;
  r.length -= attempt_start;
  return r;
}

CURL* Transfer::NewAttempt(const FetchOptions& options, CURLSH* share,
                           std::chrono::milliseconds left, const std::string& if_match,
                           const std::string& via) {
  easy = curl_easy_init();
  RangeRequest r = Remaining();
  head = ReceivedHead();
  overflow = body_started = whole = got_all = no_ranges = false;
  skip = 0;
  last_progress = Clock::now();
  std::string range = std::to_string(r.offset) + "-" + std::to_string(r.offset + r.length - 1);
  const std::string url = via.empty() ? r.url : via + "/" + r.site_key;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_RANGE, range.c_str());  // copied by libcurl
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
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
                   static_cast<long>(std::min(left, options.connect_timeout).count()));
  // A stall is a transfer slower than this for that long: retried, not waited out.
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_time.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "datumfs/" DATUMFS_VERSION);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
  error[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  ApplyTls(easy, options.tls);
  curl_easy_setopt(easy, CURLOPT_SHARE, share);
  curl_slist_free_all(headers);
  headers = nullptr;
  if (!if_match.empty()) headers = curl_slist_append(headers, ("If-Match: " + if_match).c_str());
  if (!via.empty()) headers = curl_slist_append(headers, ("X-Datumfs-Url: " + r.url).c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  if (!request.sink) ReservePrefaulted(body, request.length);
  return easy;
}

void Transfer::EndAttempt(CURLcode result, const TlsOptions& tls) {
  if (!body_started) head = ReceivedHead::Of(easy);  // no body: read at StartBody otherwise
  if (result != CURLE_OK) {  // for the words of a TLS or proxy failure
    char* effective = nullptr;
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &effective);
    curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    // libcurl records the peer's port once TCP has connected; a timeout while still
    // "connecting" after that is the TLS handshake.
    long peer_port = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &peer_port);
    url = effective ? effective : "";
    host = UrlHostPort(url);
    handshake_unfinished = result == CURLE_OPERATION_TIMEDOUT && peer_port > 0 &&
                           url.rfind("https://", 0) == 0 &&
                           std::string_view(error).rfind("Connection timed out", 0) == 0;
    ca_file = CaBundleUsed(easy, tls);
  }
  curl_easy_cleanup(easy);
  easy = nullptr;
  curl_slist_free_all(headers);
  headers = nullptr;
}

FetchError Transfer::Judge(CURLcode result) {
  auto what = [this] { return RedactUrl(request.url); };  // only for a failure
  if (overflow) {
    last_error = what() + ": server sent more bytes than asked for";
    return FetchError::kProtocol;
  }
  if (no_ranges) {
    last_error = what() + ": the server ignores Range (HTTP 200 with the whole object)";
    return FetchError::kNoRanges;
  }
  if (ChangedVersion(*this)) {
    last_error = what() + ": the object changed while it was read (ETag " +
                 (prefix_etag.empty() ? "none" : prefix_etag) + ", now " +
                 (head.etag.empty() ? "none" : head.etag) + ")";
    return FetchError::kReplaced;
  }
  if (got_all) result = CURLE_OK;  // we ended it ourselves, with the range complete
  if (result == CURLE_OPERATION_TIMEDOUT) {
    bool past_deadline = Clock::now() >= request.deadline;
    last_error = what() + (past_deadline ? ": no answer before the read's deadline"
                                       : ": transfer stalled");
    if (handshake_unfinished) {  // retried all the same: the server may just be slow
      warning = "the TLS handshake with " + host +
                " did not finish (an HTTPS server there? a firewall in between?)";
      last_error = what() + ": " + warning;
    }
    return past_deadline ? FetchError::kTimedOut : FetchError::kStalled;
  }
  if (result == CURLE_UNSUPPORTED_PROTOCOL || result == CURLE_URL_MALFORMAT) {
    last_error = what() + ": " + curl_easy_strerror(result) +
                 " (only http and https URLs are fetched, redirects included)";
    return FetchError::kBadUrl;
  }
  if (auto problem = PermanentTlsProblem(result, error, host, ca_file)) {
    reported_problem = *problem;
    last_error = what() + ": " + *problem;
    return FetchError::kTls;
  }
  if (auto proxy = DescribeProxyProblem(result, connect_code, error, url)) {
    last_error = what() + ": " + proxy->message;
    if (!proxy->permanent) return FetchError::kConnection;
    reported_problem = proxy->message;
    return FetchError::kProxy;
  }
  if (result != CURLE_OK) {
    last_error = what() + ": " + curl_easy_strerror(result);
    return FetchError::kConnection;
  }
  RangeRequest r = Remaining();
  const uint64_t got = received - attempt_start;
  Verdict v;
  if (!whole) {
    v = ClassifyResponse(r, head.View(), got);
  } else if (got != r.length) {
    v = Verdict{FetchError::kConnection, what() + ": whole object cut short"};
  }
  last_error = v.why;
  return v.error;
}

bool Transfer::HeadFits() const {
  if (overflow || ChangedVersion(*this)) return false;
  if (whole) return true;  // what was kept was counted from the object's first byte
  return ClassifyHead(Remaining(), head.View()).ok();
}

void Transfer::KeepIntactBytes(FetchError error) {
  // (A sink has had them already: only a fitting 206 or whole object counts as kept.)
  if (!HeadFits() || (request.sink && !whole && head.status != 206)) {
    body.resize(attempt_start);
    received = attempt_start;
  }
  if (error == FetchError::kReplaced) {  // none of it can be trusted now
    body.clear();
    received = 0;
  }
}

}  // namespace datumfs
