#include <doctest/doctest.h>

#include <cerrno>
#include <future>

#include "datumfs/fetch.h"
#include "fetch/classify.h"
#include "fetch/retry.h"

namespace datumfs {
namespace {

RangeRequest Req(uint64_t offset, uint64_t length, uint64_t size) {
  RangeRequest r;
  r.url = "http://store/data/x?md5=SECRET&expires=1";
  r.offset = offset;
  r.length = length;
  r.object_size = size;
  return r;
}

ResponseHead Head(long status, std::string_view range = "",
                  std::optional<uint64_t> length = std::nullopt) {
  return ResponseHead{status, range, length};
}

// Why a response to bytes 100-149 of a 1000-byte object is refused; `kind` is its class.
std::string Why(FetchError kind, const ResponseHead& head, uint64_t body,
                RangeRequest r = Req(100, 50, 1000)) {
  Verdict v = ClassifyResponse(r, head, body);
  CHECK(v.error == kind);
  CHECK(v.why.find("SECRET") == std::string::npos);
  return v.why;
}

}  // namespace

TEST_SUITE("fetch") {
  TEST_CASE("a 206 with the asked range and length is accepted") {
    CHECK(ClassifyResponse(Req(100, 50, 1000), Head(206, "bytes 100-149/1000", 50), 50).ok());
    CHECK(ClassifyResponse(Req(100, 50, 1000), Head(206, "bytes 100-149/*"), 50).ok());
  }

  TEST_CASE("a 200 is accepted only for the whole object, announcing its length") {
    CHECK(ClassifyResponse(Req(0, 1000, 1000), Head(200, "", 1000), 1000).ok());
    // Chunked: judged by the body's length once it has all arrived.
    CHECK(ClassifyResponse(Req(0, 1000, 1000), Head(200), 1000).ok());
    CHECK(ClassifyHead(Req(0, 1000, 1000), Head(200)).error == FetchError::kProtocol);
    CHECK(Why(FetchError::kNoRanges, Head(200, "", 1000), 1000) ==
          "http://store/data/x bytes 100-149: the server ignores Range (HTTP 200 with the whole "
          "object)");
    // A short error page sent with 200 is never taken for the object, nor for a server
    // that ignores Range.
    CHECK(Why(FetchError::kProtocol, Head(200, "", 50), 50) ==
          "http://store/data/x bytes 100-149: HTTP 200 announcing 50 bytes, not the object's 1000");
    CHECK(Why(FetchError::kProtocol, Head(200, "", 20), 20, Req(0, 1000, 1000)).find(
              "announcing 20 bytes") != std::string::npos);
  }

  TEST_CASE("another range, a bad header or a wrong total is refused") {
    CHECK(Why(FetchError::kProtocol, Head(206, "bytes 0-49/1000"), 50) ==
          "http://store/data/x bytes 100-149: HTTP 206 for another range (Content-Range "
          "\"bytes 0-49/1000\")");
    CHECK(Why(FetchError::kProtocol, Head(206), 50) ==
          "http://store/data/x bytes 100-149: HTTP 206 with missing or malformed Content-Range "
          "\"\"");
    CHECK(Why(FetchError::kProtocol, Head(206, "bytes 100-149"), 50).find("malformed") !=
          std::string::npos);
    CHECK(Why(FetchError::kProtocol, Head(206, "items 100-149/1000"), 50).find("malformed") !=
          std::string::npos);
    CHECK(Why(FetchError::kReplaced, Head(206, "bytes 100-149/999"), 50) ==
          "http://store/data/x bytes 100-149: object is 999 bytes, the manifest says 1000");
    CHECK(Why(FetchError::kReplaced, Head(412), 0) ==
          "http://store/data/x bytes 100-149: the object was replaced (HTTP 412 to If-Match)");
  }

  TEST_CASE("a short body is a broken connection, a long one a protocol error") {
    CHECK(Why(FetchError::kConnection, Head(206, "bytes 100-149/1000"), 49) ==
          "http://store/data/x bytes 100-149: body of 49 bytes, expected 50");
    CHECK(Why(FetchError::kProtocol, Head(206, "bytes 100-149/1000"), 51).find("body of 51") !=
          std::string::npos);
  }

  TEST_CASE("error statuses are classified by their code") {
    CHECK(Why(FetchError::kRefused, Head(403), 0) == "http://store/data/x bytes 100-149: HTTP 403");
    CHECK(Why(FetchError::kRefused, Head(400), 0).find("HTTP 400") != std::string::npos);
    CHECK(Why(FetchError::kRefused, Head(401), 0).find("HTTP 401") != std::string::npos);
    CHECK(Why(FetchError::kServer, Head(500), 0) == "http://store/data/x bytes 100-149: HTTP 500");
    CHECK(Why(FetchError::kServer, Head(503), 0).find("HTTP 503") != std::string::npos);
    CHECK(Why(FetchError::kThrottled, Head(429), 0).find("HTTP 429") != std::string::npos);
    CHECK(Why(FetchError::kMissing, Head(404), 0) ==
          "http://store/data/x bytes 100-149: HTTP 404: no such object in the store");
    CHECK(Why(FetchError::kMissing, Head(410), 0).find("no such object") != std::string::npos);
    CHECK(Why(FetchError::kReplaced, Head(416, "bytes */1000"), 0) ==
          "http://store/data/x bytes 100-149: HTTP 416: the object is shorter than the "
          "manifest's 1000 bytes");
    CHECK(Why(FetchError::kProtocol, Head(304), 0).find("HTTP 304") != std::string::npos);
    // A shorter object answers a range it still has with its own total: not retried either.
    CHECK(Why(FetchError::kReplaced, Head(206, "bytes 100-109/110"), 10) ==
          "http://store/data/x bytes 100-149: object is 110 bytes, the manifest says 1000");
  }

  TEST_CASE("each error reaches the caller as one outcome, with its errno") {
    struct Case {
      FetchError error;
      FetchOutcome outcome;
      int errno_value;
    };
    for (const Case& c : {Case{FetchError::kRefused, FetchOutcome::kUrlRefused, EACCES},
                          Case{FetchError::kReplaced, FetchOutcome::kReplaced, ESTALE},
                          Case{FetchError::kNoRanges, FetchOutcome::kNoRanges, ENOTSUP},
                          Case{FetchError::kTls, FetchOutcome::kReported, EPROTO},
                          Case{FetchError::kProxy, FetchOutcome::kReported, EPROTO},
                          Case{FetchError::kCancelled, FetchOutcome::kCancelled, ECANCELED},
                          Case{FetchError::kServer, FetchOutcome::kFailed, EIO},
                          Case{FetchError::kMissing, FetchOutcome::kFailed, EIO},
                          Case{FetchError::kTimedOut, FetchOutcome::kFailed, EIO}}) {
      FetchResult r = ResultOf(c.error, "why");
      CHECK(r.outcome == c.outcome);
      CHECK(r.status.errno_value() == c.errno_value);
      CHECK(r.status.message() == "why");
    }
    CHECK(ResultOf(FetchError::kNone, "").ok());
    CHECK(ResultOf(FetchError::kNone, "").status.ok());
  }

  TEST_CASE("a fetcher fails a request to a closed port with EIO, without the query") {
    Result<std::unique_ptr<Fetcher>> f = Fetcher::Create(FetchOptions{});
    REQUIRE(f.has_value());
    RangeRequest r = Req(0, 10, 10);
    r.url = "http://127.0.0.1:1/x?sig=SECRET";
    r.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::promise<FetchResult> done;
    f.value()->Submit(r, [&](const FetchResult& result, std::string&& body) {
      CHECK(body.empty());
      done.set_value(result);
    });
    FetchResult result = done.get_future().get();
    CHECK(result.outcome == FetchOutcome::kFailed);
    const Status& s = result.status;
    CHECK(s.errno_value() == EIO);
    CHECK(s.message().rfind("http://127.0.0.1:1/x: ", 0) == 0);
    CHECK(s.message().find("SECRET") == std::string::npos);
    CHECK(f.value()->counters().errors == 1);
    CHECK(f.value()->counters().retries >= 1);  // connection refused is worth retrying
  }
}

}  // namespace datumfs

namespace datumfs {

TEST_SUITE("fetch") {
  TEST_CASE("errors worth retrying are retried") {
    CHECK(IsRetryable(FetchError::kConnection));
    CHECK(IsRetryable(FetchError::kStalled));
    CHECK(IsRetryable(FetchError::kServer));
    CHECK(IsRetryable(FetchError::kThrottled));
    CHECK(IsRetryable(FetchError::kProtocol));
    CHECK_FALSE(IsRetryable(FetchError::kRefused));
    CHECK_FALSE(IsRetryable(FetchError::kMissing));
    CHECK_FALSE(IsRetryable(FetchError::kReplaced));
    CHECK_FALSE(IsRetryable(FetchError::kTimedOut));
    CHECK_FALSE(IsRetryable(FetchError::kBadUrl));
  }

  TEST_CASE("backoff is full jitter under a doubling, capped ceiling") {
    using std::chrono::milliseconds;
    CHECK(BackoffDelay(0, milliseconds(100), milliseconds(5000), 0.999).count() == 99);
    CHECK(BackoffDelay(3, milliseconds(100), milliseconds(5000), 0.5).count() == 400);
    CHECK(BackoffDelay(30, milliseconds(100), milliseconds(5000), 0.5).count() == 2500);
    CHECK(BackoffDelay(5, milliseconds(100), milliseconds(5000), 0.0).count() == 0);
  }

}

}  // namespace datumfs

#include "fetch/url_expiry.h"

namespace datumfs {

TEST_SUITE("fetch") {
  TEST_CASE("expiry is read from every store's signed URL") {
    // 2026-11-25T00:00:00Z is 1795564800.
    CHECK(UrlExpiresAt("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                       "&X-Amz-Date=20261125T000000Z&X-Amz-Expires=3600&X-Amz-Signature=ab")
              .value() == 1795564800 + 3600);
    CHECK(UrlExpiresAt("https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Expires=1795568400"
                       "&Signature=x%2By")
              .value() == 1795568400);
    CHECK(UrlExpiresAt("https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256"
                       "&X-Goog-Date=20261125T000000Z&X-Goog-Expires=900&X-Goog-Signature=1")
              .value() == 1795564800 + 900);
    CHECK(UrlExpiresAt("https://a.blob.core.windows.net/c/b?sv=2021-08-06&se=2026-11-25T01%3A00"
                       "%3A00Z&sr=b&sp=r&sig=abc%3D")
              .value() == 1795564800 + 3600);
    CHECK(UrlExpiresAt("https://swift/v1/AUTH_a/c/o?temp_url_sig=da39&temp_url_expires="
                       "1795568400")
              .value() == 1795568400);
    CHECK(UrlExpiresAt("http://127.0.0.1:8080/data/x?md5=abc&expires=1795568400").value() ==
          1795568400);
    CHECK_FALSE(UrlExpiresAt("https://public.example.com/data.csv").has_value());
    CHECK_FALSE(UrlExpiresAt("https://x/y?X-Amz-Date=garbage&X-Amz-Expires=1").has_value());
  }

  TEST_CASE("query parameters are percent-decoded") {
    CHECK(QueryParam("http://h/p?a=1&b=x%2Fy&c", "b").value() == "x/y");
    CHECK(QueryParam("http://h/p?a=1&b=x%2Fy&c", "c").value().empty());
    CHECK_FALSE(QueryParam("http://h/p?a=1", "z").has_value());
    CHECK_FALSE(QueryParam("http://h/p", "a").has_value());
  }
}

}  // namespace datumfs

#include "fetch/tls.h"

namespace datumfs {

TEST_SUITE("fetch") {
  TEST_CASE("a TLS failure retrying cannot fix says what is wrong and what to do") {
    auto problem = [](CURLcode rc, const char* detail) {
      return PermanentTlsProblem(rc, detail, "store:443", "/etc/ssl/certs/ca.crt").value_or("");
    };
    CHECK(problem(CURLE_PEER_FAILED_VERIFICATION,
                  "SSL certificate problem: unable to get local issuer certificate")
              .find("store:443 is not signed by a CA this machine trusts: pass --ca-file") !=
          std::string::npos);
    CHECK(problem(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: certificate has expired")
              .find("has expired") != std::string::npos);
    CHECK(problem(CURLE_PEER_FAILED_VERIFICATION,
                  "SSL: no alternative certificate subject name matches target host name 'x'")
              .find("is for another host name") != std::string::npos);
    CHECK(problem(CURLE_SSL_CACERT_BADFILE, "error setting certificate file")
              .find("/etc/ssl/certs/ca.crt cannot be read): install ca-certificates") !=
          std::string::npos);
    CHECK(problem(CURLE_SSL_CONNECT_ERROR, "error:0A00010B:SSL routines::wrong version number")
              .find("store:443 does not speak TLS") != std::string::npos);
    // A handshake cut short may be the network: retried, not reported as permanent.
    CHECK_FALSE(PermanentTlsProblem(CURLE_SSL_CONNECT_ERROR, "", "h", "").has_value());
    CHECK_FALSE(PermanentTlsProblem(CURLE_COULDNT_CONNECT, "", "h", "").has_value());
  }

  TEST_CASE("the host of a URL, with its port") {
    CHECK(UrlHostPort("https://store.example:8443/a/b?X-Amz-Signature=s") == "store.example:8443");
    CHECK(UrlHostPort("https://store.example/a") == "store.example");
    CHECK(UrlHostPort("not a url") == "");
  }
}

}  // namespace datumfs

#include "fetch/proxy.h"

namespace datumfs {

namespace {

const char* FakeEnv(const char* name) {
  std::string n = name;
  if (n == "HTTPS_PROXY") return "http://bob:hunter2@proxy.corp:3128";
  if (n == "all_proxy") return "http://fallback:8080";
  if (n == "HTTP_PROXY") return "http://never-read-by-curl:1";
  return nullptr;
}

}  // namespace

TEST_SUITE("fetch") {
  TEST_CASE("the proxy is read from the environment as curl reads it, and named without "
            "credentials") {
    auto https = ProxyFromEnvironment("https", &FakeEnv);
    REQUIRE(https);
    CHECK(https->variable == "HTTPS_PROXY");
    auto http = ProxyFromEnvironment("http", &FakeEnv);  // not HTTP_PROXY: curl ignores it
    REQUIRE(http);
    CHECK(http->variable == "all_proxy");
    CHECK(RedactProxy("http://bob:hunter2@proxy.corp:3128/") == "http://proxy.corp:3128");
    CHECK(RedactProxy("proxy.corp:3128") == "http://proxy.corp:3128");
    CHECK(RedactProxy("socks5://[::1]:1080") == "socks5://[::1]:1080");
  }

  TEST_CASE("a proxy's refusal is permanent and says what to do; its credentials never show") {
    const std::string url = "https://store.example/o?X-Amz-Signature=s";
    auto wants = DescribeProxyProblem(CURLE_RECV_ERROR, 407, "", url, &FakeEnv);
    REQUIRE(wants);
    CHECK(wants->permanent);
    CHECK(wants->message.find("the proxy http://proxy.corp:3128 (HTTPS_PROXY) wants "
                              "credentials") == 0);
    CHECK(wants->message.find("refused the ones given") != std::string::npos);
    auto refused = DescribeProxyProblem(CURLE_RECV_ERROR, 403, "", url, &FakeEnv);
    REQUIRE(refused);
    CHECK(refused->permanent);
    CHECK(refused->message.find("refused to CONNECT to store.example (HTTP 403)") !=
          std::string::npos);
    auto gateway = DescribeProxyProblem(CURLE_RECV_ERROR, 502, "", url, &FakeEnv);
    REQUIRE(gateway);
    CHECK_FALSE(gateway->permanent);
    auto down = DescribeProxyProblem(CURLE_COULDNT_CONNECT, 0,
                                     "Failed to connect to proxy.corp port 3128", url, &FakeEnv);
    REQUIRE(down);
    CHECK(down->message == "cannot connect to the proxy http://proxy.corp:3128 (HTTPS_PROXY)");
    // The store itself refusing connections is not the proxy's doing.
    CHECK_FALSE(DescribeProxyProblem(CURLE_COULDNT_CONNECT, 0,
                                     "Failed to connect to store.example port 443", url, &FakeEnv));
    for (auto* p : {&*wants, &*refused, &*gateway, &*down}) {
      CHECK(p->message.find("hunter2") == std::string::npos);
      CHECK(p->message.find("X-Amz-Signature") == std::string::npos);
    }
  }
}

}  // namespace datumfs

#include "fetch/input_request_url.h"

namespace datumfs {

TEST_SUITE("input_request url") {
  TEST_CASE("input=<id> is added to the query, the id percent-encoded") {
    CHECK(InputRequestUrl("https://app.valohai.com/api/v0/input-request/", "0179a5e2") ==
          "https://app.valohai.com/api/v0/input-request/?input=0179a5e2");
    CHECK(InputRequestUrl("https://api.example/ir?token=x", "abc") ==
          "https://api.example/ir?token=x&input=abc");
    CHECK(InputRequestUrl("https://api.example/ir", "a&b=c #d") ==
          "https://api.example/ir?input=a%26b%3dc+%23d");
  }

  TEST_CASE("a URL libcurl cannot parse is kept as it was") {
    CHECK(InputRequestUrl("not a url", "x") == "not a url?input=x");
  }
}

}  // namespace datumfs
