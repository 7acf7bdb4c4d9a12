#include "fetch/url_expiry.h"

#include <charconv>
#include <ctime>

namespace datumfs {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::optional<int64_t> Number(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// "20261125T101500Z" (AWS/GCS basic ISO 8601) or "2026-11-25T10:15:00Z" (Azure).
std::optional<int64_t> IsoTime(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c >= '0' && c <= '9') digits += c;
  }
  if (digits.size() != 14 || (s.back() != 'Z' && s.back() != 'z')) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(digits.substr(6, 2));
  tm.tm_hour = std::stoi(digits.substr(8, 2));
  tm.tm_min = std::stoi(digits.substr(10, 2));
  tm.tm_sec = std::stoi(digits.substr(12, 2));
  return static_cast<int64_t>(timegm(&tm));
}

std::optional<int64_t> DatePlusSeconds(std::string_view url, std::string_view date_name,
                                       std::string_view expires_name) {
  auto date = QueryParam(url, date_name);
  auto expires = QueryParam(url, expires_name);
  if (!date || !expires) return std::nullopt;
  auto start = IsoTime(*date);
  auto seconds = Number(*expires);
  if (!start || !seconds) return std::nullopt;
  return *start + *seconds;
}

}  // namespace

std::optional<std::string> QueryParam(std::string_view url, std::string_view name) {
  size_t q = url.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<int64_t> UrlExpiresAt(std::string_view url) {
  if (auto t = DatePlusSeconds(url, "X-Amz-Date", "X-Amz-Expires")) return t;
  if (auto t = DatePlusSeconds(url, "X-Goog-Date", "X-Goog-Expires")) return t;
  if (auto se = QueryParam(url, "se")) return IsoTime(*se);
  for (std::string_view name : {"Expires", "temp_url_expires", "expires"}) {
    if (auto v = QueryParam(url, name)) {
      if (auto n = Number(*v)) return n;
      return IsoTime(*v);  // Swift also takes ISO 8601
    }
  }
  return std::nullopt;
}

}  // namespace datumfs
