#include <cerrno>
#include <charconv>
#include <string>

#include "datumfs/fetch.h"
#include "datumfs/redact.h"

namespace datumfs {
namespace {

bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "bytes 100-199/1000" (the total may be "*").
bool ParseContentRange(std::string_view v, uint64_t* first, uint64_t* last, uint64_t* total,
                       bool* total_known) {
  constexpr std::string_view kPrefix = "bytes ";
  if (v.substr(0, kPrefix.size()) != kPrefix) return false;
  v.remove_prefix(kPrefix.size());
  size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return false;
  }
  std::string_view t = v.substr(slash + 1);
  *total_known = t != "*";
  if (*total_known && !ParseNumber(t, total)) return false;
  return ParseNumber(v.substr(0, dash), first) &&
         ParseNumber(v.substr(dash + 1, slash - dash - 1), last);
}

}  // namespace

Status CheckRangeResponse(const RangeRequest& request, long http_status,
                          std::string_view content_range, uint64_t body_size) {
  std::string what = RedactUrl(request.url) + " bytes " + std::to_string(request.offset) + "-" +
                     std::to_string(request.offset + request.length - 1);
  auto bad = [&](const std::string& why) { return Status::Errno(EIO, what, why); };
  if (http_status == 200) {
    if (request.offset != 0 || request.length != request.object_size) {
      return bad("server ignored the Range header (HTTP 200)");
    }
  } else if (http_status == 206) {
    uint64_t first = 0, last = 0, total = 0;
    bool total_known = false;
    if (!ParseContentRange(content_range, &first, &last, &total, &total_known)) {
      return bad("HTTP 206 with missing or malformed Content-Range \"" +
                 std::string(content_range) + "\"");
    }
    if (total_known && total != request.object_size) {  // another object than the manifest's
      return Status::Errno(ESTALE, what, "object is " + std::to_string(total) +
                                             " bytes, the manifest says " +
                                             std::to_string(request.object_size));
    }
    if (first != request.offset || last != request.offset + request.length - 1) {
      return bad("HTTP 206 for another range (Content-Range \"" + std::string(content_range) +
                 "\")");
    }
  } else {
    Status s = bad("HTTP " + std::to_string(http_status));
    if (http_status == 400 || http_status == 401 || http_status == 403) {
      return Status::Errno(EACCES, s.message());
    }
    if (http_status == 412) {
      return Status::Errno(ESTALE, what, "the object was replaced (HTTP 412 to If-Match)");
    }
    if (http_status == 416) {
      return Status::Errno(ESTALE, what,
                           "HTTP 416: the object is shorter than the manifest's " +
                               std::to_string(request.object_size) + " bytes");
    }
    if (http_status == 404 || http_status == 410) {
      return bad("HTTP " + std::to_string(http_status) + ": no such object in the store");
    }
    return s;
  }
  if (body_size != request.length) {
    return bad("body of " + std::to_string(body_size) + " bytes, expected " +
               std::to_string(request.length));
  }
  return Status();
}

}  // namespace datumfs
