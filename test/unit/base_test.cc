#include <doctest/doctest.h>

#include <cerrno>

#include "base/split.h"
#include "datumfs/json_depth.h"
#include "datumfs/quote.h"
#include "datumfs/redact.h"
#include "datumfs/status.h"

namespace datumfs {

TEST_SUITE("base") {
  TEST_CASE("a list splits at its separators, empty items dropped") {
    CHECK(SplitNonEmpty("train,labels") == std::vector<std::string>{"train", "labels"});
    CHECK(SplitNonEmpty(",a,,b,") == std::vector<std::string>{"a", "b"});
    CHECK(SplitNonEmpty("").empty());
    CHECK(SplitNonEmpty(",,").empty());
    CHECK(SplitNonEmpty("a:b", ':') == std::vector<std::string>{"a", "b"});
  }

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
    // Parsed as libcurl parses it for the request: a password is whatever precedes the last
    // '@' of the authority, and ";options" go too.
    CHECK(RedactUrl("https://user:pa@ss@host/p?sig=1") == "https://host/p");
    CHECK(RedactUrl("imap://user:pw;AUTH=x@host/INBOX") == "imap://host/INBOX");
    CHECK(RedactUrl("https://host:8443/a%20b/c?sig=1#f") == "https://host:8443/a%20b/c");
    CHECK(RedactUrl("http://u:p@[::1]:8080/x?y") == "http://[::1]:8080/x");
    CHECK(RedactUrl("not a url, u:p@h/?q").find("u:p") == std::string::npos);
  }

  TEST_CASE("JSON nesting depth ignores brackets in strings") {
    CHECK(JsonNestingDepth("") == 0);
    CHECK(JsonNestingDepth("{\"a\": [1, {\"b\": []}]}") == 4);
    CHECK(JsonNestingDepth("[\"[[[\\\"[[\"]") == 1);
    CHECK(JsonNestingDepth(std::string(100000, '[')) == 100000);
  }

  TEST_CASE("ObjectIdentity drops only the parameters that sign a URL") {
    CHECK(ObjectIdentity("https://b.s3.amazonaws.com/k/a.bin?versionId=3&X-Amz-Algorithm=A"
                         "&X-Amz-Credential=c&X-Amz-Date=d&X-Amz-Expires=60"
                         "&X-Amz-SignedHeaders=host&X-Amz-Signature=s") ==
          "https://b.s3.amazonaws.com/k/a.bin?versionId=3");
    CHECK(ObjectIdentity("https://s.googleapis.com/b/o?X-Goog-Signature=s&X-Goog-Date=d&"
                         "generation=7&X-Goog-Expires=9&X-Goog-Credential=c") ==
          "https://s.googleapis.com/b/o?generation=7");
    CHECK(ObjectIdentity("https://a.blob.core.windows.net/c/b?sv=2021&se=2026-01-01T00%3A00Z&"
                         "sr=b&sp=r&sig=abc&snapshot=2026") ==
          "https://a.blob.core.windows.net/c/b?snapshot=2026");
    CHECK(ObjectIdentity("https://swift/v1/AUTH_a/c/o?temp_url_sig=s&temp_url_expires=1") ==
          "https://swift/v1/AUTH_a/c/o");
    CHECK(ObjectIdentity("http://127.0.0.1:80/data/x?md5=s&expires=1#frag") ==
          "http://127.0.0.1:80/data/x");
    CHECK(ObjectIdentity("https://u:p@h/download?k=a.bin&Signature=s") == "https://h/download?k=a.bin");
    // Two objects that differ only in the query are two identities; refreshed signatures not.
    CHECK(ObjectIdentity("https://h/download?k=a.bin&sig=1") !=
          ObjectIdentity("https://h/download?k=b.bin&sig=1"));
    CHECK(ObjectIdentity("https://h/o?versionId=1&X-Amz-Signature=a") !=
          ObjectIdentity("https://h/o?versionId=2&X-Amz-Signature=a"));
    CHECK(ObjectIdentity("https://h/o?versionId=1&X-Amz-Signature=a&X-Amz-Date=1") ==
          ObjectIdentity("https://h/o?versionId=1&X-Amz-Signature=b&X-Amz-Date=2"));
  }
}

}  // namespace datumfs

#include "datumfs/crc32c.h"
#include "datumfs/units.h"

namespace datumfs {

TEST_SUITE("base") {
  TEST_CASE("CRC32C matches the known vectors") {
    CHECK(crc32c::Value("") == 0);
    CHECK(crc32c::Value("123456789") == 0xe3069283u);
    CHECK(crc32c::Value(std::string(32, '\0')) == 0x8a9136aau);  // RFC 3720 B.4
    CHECK(crc32c::Value(std::string(32, '\xff')) == 0x62a8ab43u);
    std::string ascending;
    for (int i = 0; i < 32; ++i) ascending += static_cast<char>(i);
    CHECK(crc32c::Value(ascending) == 0x46dd794eu);
  }

  TEST_CASE("CRC32C extends piece by piece") {
    std::string data(100000, 'x');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
    uint32_t whole = crc32c::Value(data);
    uint32_t pieces = crc32c::Extend(crc32c::Value(data.substr(0, 333)), data.substr(333));
    CHECK(whole == pieces);
    data[5000] ^= 1;
    CHECK(crc32c::Value(data) != whole);
  }

  TEST_CASE("sizes parse with binary units") {
    CHECK(ParseSize("0").value() == 0);
    CHECK(ParseSize("4096").value() == 4096);
    CHECK(ParseSize("4k").value() == 4096);
    CHECK(ParseSize("8M").value() == 8u << 20);
    CHECK(ParseSize("8MiB").value() == 8u << 20);
    CHECK(ParseSize("8MB").value() == 8u << 20);
    CHECK(ParseSize("1.5G").value() == 3ull << 29);
    CHECK(ParseSize("2T").value() == 2ull << 40);
    CHECK(ParseSize("12x").error().message() == "\"12x\": not a size (like 500M, 20G or 1T)");
    CHECK_FALSE(ParseSize("").has_value());
    CHECK_FALSE(ParseSize("M").has_value());
    CHECK_FALSE(ParseSize("-1").has_value());
  }

  TEST_CASE("a size or a percentage") {
    CHECK(ParseSizeOrPercent("10%").value().Of(1000) == 100);
    CHECK(ParseSizeOrPercent("1G").value().Of(1000) == 1ull << 30);
    CHECK(ParseSizeOrPercent("101%").error().message() == "\"101%\": not a percentage (0-100%)");
  }

  TEST_CASE("human sizes are printed as Valohai does") {
    CHECK(HumanBytes(0) == "0 B");
    CHECK(HumanBytes(999) == "999 B");
    CHECK(HumanBytes(28900) == "28.9 kB");
    CHECK(HumanBytes(57600000000) == "57.6 GB");
  }
}

}  // namespace datumfs

#include "datumfs/hex.h"

namespace datumfs {
TEST_SUITE("base") {
  TEST_CASE("hex is lower case, two digits a byte") {
    CHECK(HexEncode(std::string_view("\x00\xab\x0f", 3)) == "00ab0f");
    CHECK(HexEncode("").empty());
  }
}
}  // namespace datumfs

#include <sys/resource.h>

#include "base/buffer.h"

namespace datumfs {

namespace {
// Sanitizers fault in shadow memory for every page written: the count means nothing there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
constexpr bool kSanitized = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool kSanitized = false;
#endif

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}
}  // namespace

TEST_SUITE("base") {
  TEST_CASE("ZeroedBuffer is zeroes of the size asked, big or small") {
    for (size_t size : {size_t{0}, size_t{10}, size_t{300 * 1024}, size_t{8 << 20}}) {
      std::string buffer = ZeroedBuffer(size);
      CHECK(buffer.size() == size);
      CHECK(buffer.find_first_not_of('\0') == std::string::npos);
    }
  }

  TEST_CASE("a prefaulted 8 MiB buffer takes no page fault per page when written") {
    std::string buffer;
    ReservePrefaulted(buffer, 8 << 20);
    const long before = MinorFaults();
    buffer.append(8 << 20, 'x');
    // 2,048 pages; without the prefault each one faults at its first write.
    if (!kSanitized) CHECK(MinorFaults() - before < 64);
    CHECK(buffer.size() == size_t{8 << 20});
  }
}

}  // namespace datumfs
