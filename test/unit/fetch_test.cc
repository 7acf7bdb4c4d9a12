#include <doctest/doctest.h>

#include <cerrno>
#include <future>

#include "datumfs/fetch.h"

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

std::string Why(long status, std::string_view range, uint64_t body,
                RangeRequest r = Req(100, 50, 1000)) {
  Status s = CheckRangeResponse(r, status, range, body);
  REQUIRE_FALSE(s.ok());
  CHECK(s.errno_value() == EIO);
  CHECK(s.message().find("SECRET") == std::string::npos);
  return s.message();
}

}  // namespace

TEST_SUITE("fetch") {
  TEST_CASE("a 206 with the asked range and length is accepted") {
    CHECK(CheckRangeResponse(Req(100, 50, 1000), 206, "bytes 100-149/1000", 50).ok());
    CHECK(CheckRangeResponse(Req(100, 50, 1000), 206, "bytes 100-149/*", 50).ok());
  }

  TEST_CASE("a 200 is accepted only for the whole object") {
    CHECK(CheckRangeResponse(Req(0, 1000, 1000), 200, "", 1000).ok());
    CHECK(Why(200, "", 1000) ==
          "http://store/data/x bytes 100-149: server ignored the Range header (HTTP 200)");
  }

  TEST_CASE("another range, a bad header or a wrong total is refused") {
    CHECK(Why(206, "bytes 0-49/1000", 50) ==
          "http://store/data/x bytes 100-149: HTTP 206 for another range (Content-Range "
          "\"bytes 0-49/1000\")");
    CHECK(Why(206, "", 50) ==
          "http://store/data/x bytes 100-149: HTTP 206 with missing or malformed Content-Range "
          "\"\"");
    CHECK(Why(206, "bytes 100-149", 50).find("malformed") != std::string::npos);
    CHECK(Why(206, "items 100-149/1000", 50).find("malformed") != std::string::npos);
    CHECK(Why(206, "bytes 100-149/999", 50) ==
          "http://store/data/x bytes 100-149: object is 999 bytes, the manifest says 1000");
  }

  TEST_CASE("a short or long body is refused") {
    CHECK(Why(206, "bytes 100-149/1000", 49) ==
          "http://store/data/x bytes 100-149: body of 49 bytes, expected 50");
    CHECK(Why(206, "bytes 100-149/1000", 51).find("body of 51") != std::string::npos);
  }

  TEST_CASE("error statuses are refused with their code") {
    CHECK(Why(403, "", 0) == "http://store/data/x bytes 100-149: HTTP 403");
    CHECK(Why(500, "", 0) == "http://store/data/x bytes 100-149: HTTP 500");
    CHECK(Why(416, "bytes */1000", 0) == "http://store/data/x bytes 100-149: HTTP 416");
  }

  TEST_CASE("a fetcher fails a request to a closed port with EIO, without the query") {
    Result<std::unique_ptr<Fetcher>> f = Fetcher::Create(FetchOptions{});
    REQUIRE(f.has_value());
    RangeRequest r = Req(0, 10, 10);
    r.url = "http://127.0.0.1:1/x?sig=SECRET";
    r.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::promise<Status> done;
    f.value()->Submit(r, [&](const Status& s, std::string&& body) {
      CHECK(body.empty());
      done.set_value(s);
    });
    Status s = done.get_future().get();
    CHECK(s.errno_value() == EIO);
    CHECK(s.message().rfind("http://127.0.0.1:1/x: ", 0) == 0);
    CHECK(s.message().find("SECRET") == std::string::npos);
    CHECK(f.value()->counters().errors == 1);
  }
}

}  // namespace datumfs
