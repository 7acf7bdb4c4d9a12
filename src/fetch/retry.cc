#include "fetch/retry.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace datumfs {

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

FetchError ClassifyHttpStatus(long status) {
  if (status == 429) return FetchError::kThrottled;
  if (status >= 500) return FetchError::kServer;
  if (status == 400 || status == 401 || status == 403) return FetchError::kRefused;
  if (status == 404 || status == 410) return FetchError::kMissing;
  if (status == 412) return FetchError::kReplaced;
  if (status == 416) return FetchError::kReplaced;  // the object is shorter than the manifest says
  return FetchError::kProtocol;
}

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit_random) {
  int64_t ceiling = base.count();
  for (int i = 0; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, cap.count());
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(ceiling) * unit_random));
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

std::optional<std::string_view> HeaderValue(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return std::nullopt;
  }
  std::string_view v = line.substr(name.size() + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  return v;
}

}  // namespace datumfs
