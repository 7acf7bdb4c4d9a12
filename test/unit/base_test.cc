#include <doctest/doctest.h>

#include <cerrno>

#include "datumfs/quote.h"
#include "datumfs/redact.h"
#include "datumfs/status.h"

namespace datumfs {

TEST_SUITE("base") {
  TEST_CASE("a default Status is OK") {
    Status s;
    CHECK(s.ok());
    CHECK(s.errno_value() == 0);
  }

  TEST_CASE("Errno joins context and detail") {
    Status s = Status::Errno(EINVAL, "inputs.json", "bad");
    CHECK_FALSE(s.ok());
    CHECK(s.errno_value() == EINVAL);
    CHECK(s.message() == "inputs.json: bad");
    CHECK(Status::Errno(EIO, "alone").message() == "alone");
  }

  TEST_CASE("ErrnoStatus uses strerror") {
    CHECK(ErrnoStatus("/x", ENOENT).message() == "/x: No such file or directory");
  }

  TEST_CASE("Result holds a value or an error") {
    Result<int> good = 7;
    REQUIRE(good.has_value());
    CHECK(good.value() == 7);
    Result<int> bad = Status::Errno(EIO, "x");
    CHECK_FALSE(bad.has_value());
    CHECK(bad.error().errno_value() == EIO);
  }

  TEST_CASE("Quote escapes control bytes, quotes and backslashes") {
    CHECK(Quote("dogs/a.jpg") == "\"dogs/a.jpg\"");
    CHECK(Quote(std::string_view("a\nb\0c", 5)) == "\"a\\x0ab\\x00c\"");
    CHECK(Quote("q\"\\") == "\"q\\x22\\x5c\"");
    CHECK(Quote("\xc3\xa9") == "\"\xc3\xa9\"");  // UTF-8 stays as it is
  }

  TEST_CASE("RedactUrl drops the query, fragment and credentials") {
    CHECK(RedactUrl("https://b.s3.amazonaws.com/k/a.bin?X-Amz-Signature=abc&X-Amz-Date=1") ==
          "https://b.s3.amazonaws.com/k/a.bin");
    CHECK(RedactUrl("http://127.0.0.1:80/data/x?md5=s&expires=1#frag") ==
          "http://127.0.0.1:80/data/x");
    CHECK(RedactUrl("https://user:secret@host/p/q?sig=1") == "https://host/p/q");
    CHECK(RedactUrl("https://host/p@q") == "https://host/p@q");
    CHECK(RedactUrl("no-scheme?x") == "no-scheme");
  }
}

}  // namespace datumfs
