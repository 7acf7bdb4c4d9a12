#include "fetch/classify.h"

#include <cerrno>
#include <charconv>

#include "datumfs/redact.h"

namespace datumfs {
namespace {

bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "bytes 100-199/1000" (the total may be "*").
bool ParseContentRange(std::string_view v, uint64_t* first, uint64_t* last,
                       std::optional<uint64_t>* total) {
  constexpr std::string_view kPrefix = "bytes ";
  if (v.substr(0, kPrefix.size()) != kPrefix) return false;
  v.remove_prefix(kPrefix.size());
  size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return false;
  }
  std::string_view t = v.substr(slash + 1);
  if (t != "*") {
    uint64_t n = 0;
    if (!ParseNumber(t, &n)) return false;
    *total = n;
  }
  return ParseNumber(v.substr(0, dash), first) &&
         ParseNumber(v.substr(dash + 1, slash - dash - 1), last);
}

FetchError ClassifyErrorStatus(long status) {
  if (status == 429) return FetchError::kThrottled;
  if (status >= 500) return FetchError::kServer;
  if (status == 400 || status == 401 || status == 403) return FetchError::kRefused;
  if (status == 404 || status == 410) return FetchError::kMissing;
  if (status == 412 || status == 416) return FetchError::kReplaced;
  return FetchError::kProtocol;
}

std::string ErrorStatusWords(const RangeRequest& asked, long status) {
  std::string code = "HTTP " + std::to_string(status);
  if (status == 412) return "the object was replaced (HTTP 412 to If-Match)";
  if (status == 416) {
    return code + ": the object is shorter than the manifest's " +
           std::to_string(asked.object_size) + " bytes";
  }
  if (status == 404 || status == 410) return code + ": no such object in the store";
  return code;
}

Verdict Classify206(const RangeRequest& asked, std::string_view content_range) {
  uint64_t first = 0, last = 0;
  std::optional<uint64_t> total;
  if (!ParseContentRange(content_range, &first, &last, &total)) {
    return {FetchError::kProtocol, "HTTP 206 with missing or malformed Content-Range \"" +
                                       std::string(content_range) + "\""};
  }
  if (total && *total != asked.object_size) {  // another object than the manifest's
    return {FetchError::kReplaced, "object is " + std::to_string(*total) +
                                       " bytes, the manifest says " +
                                       std::to_string(asked.object_size)};
  }
  if (first != asked.offset || last != asked.offset + asked.length - 1) {
    return {FetchError::kProtocol,
            "HTTP 206 for another range (Content-Range \"" + std::string(content_range) + "\")"};
  }
  return {};
}

Verdict ClassifyHeadWords(const RangeRequest& asked, const ResponseHead& head) {
  if (head.status == 206) return Classify206(asked, head.content_range);
  if (head.status == 200) {
    if (head.content_length != asked.object_size) {
      return {FetchError::kProtocol,
              "HTTP 200 announcing " +
                  (head.content_length ? std::to_string(*head.content_length) + " bytes"
                                       : std::string("no length")) +
                  ", not the object's " + std::to_string(asked.object_size)};
    }
    if (!asked.IsWholeObject()) {
      return {FetchError::kNoRanges, "the server ignores Range (HTTP 200 with the whole object)"};
    }
    return {};
  }
  return {ClassifyErrorStatus(head.status), ErrorStatusWords(asked, head.status)};
}

std::string Naming(const RangeRequest& asked) {
  return RedactUrl(asked.url) + " bytes " + std::to_string(asked.offset) + "-" +
         std::to_string(asked.offset + asked.length - 1);
}

}  // namespace

bool IsRetryable(FetchError e) {
  switch (e) {
    case FetchError::kConnection:
    case FetchError::kStalled:
    case FetchError::kServer:
    case FetchError::kThrottled:
    case FetchError::kProtocol:
      return true;
    default:
      return false;
  }
}

Verdict ClassifyHead(const RangeRequest& asked, const ResponseHead& head) {
  Verdict v = ClassifyHeadWords(asked, head);
  if (!v.ok()) v.why = Naming(asked) + ": " + v.why;
  return v;
}

Verdict ClassifyResponse(const RangeRequest& asked, const ResponseHead& head, uint64_t body_bytes) {
  // A 200 without a length (chunked) can be judged only now, by the body's length.
  const bool judged_by_body = head.status == 200 && !head.content_length && asked.IsWholeObject();
  Verdict v = judged_by_body ? Verdict{} : ClassifyHead(asked, head);
  if (!v.ok() || body_bytes == asked.length) return v;
  std::string why = Naming(asked) + ": body of " + std::to_string(body_bytes) +
                    " bytes, expected " + std::to_string(asked.length);
  return {body_bytes < asked.length ? FetchError::kConnection : FetchError::kProtocol, why};
}

FetchResult FetchResult::Of(FetchOutcome outcome, std::string_view why) {
  switch (outcome) {
    case FetchOutcome::kOk:
      return FetchResult{};
    case FetchOutcome::kUrlRefused:
      return FetchResult{outcome, Status::Errno(EACCES, why)};
    case FetchOutcome::kReplaced:
      return FetchResult{outcome, Status::Errno(ESTALE, why)};
    case FetchOutcome::kNoRanges:
      return FetchResult{outcome, Status::Errno(ENOTSUP, why)};
    case FetchOutcome::kReported:
      return FetchResult{outcome, Status::Errno(EPROTO, why)};
    case FetchOutcome::kCancelled:
      return FetchResult{outcome, Status::Errno(ECANCELED, why)};
    case FetchOutcome::kFailed:
      break;
  }
  return FetchResult{FetchOutcome::kFailed, Status::Errno(EIO, why)};
}

FetchResult ResultOf(FetchError error, std::string why) {
  switch (error) {
    case FetchError::kNone:
      return FetchResult{};
    case FetchError::kRefused:
      return FetchResult::Of(FetchOutcome::kUrlRefused, why);
    case FetchError::kReplaced:
      return FetchResult::Of(FetchOutcome::kReplaced, why);
    case FetchError::kNoRanges:
      return FetchResult::Of(FetchOutcome::kNoRanges, why);
    case FetchError::kTls:
    case FetchError::kProxy:
      return FetchResult::Of(FetchOutcome::kReported, why);
    case FetchError::kCancelled:
      return FetchResult::Of(FetchOutcome::kCancelled, why);
    default:
      return FetchResult::Of(FetchOutcome::kFailed, why);
  }
}

}  // namespace datumfs
