#include "datumfs/units.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "datumfs/quote.h"

namespace datumfs {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::Errno(EINVAL, Quote(text),
                         "not a size (like 500M, 20G or 1T)");
  };
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data() || number < 0) return bad();
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();   // "MB" -> "M"
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();   // "MIB" -> "MI" -> "M"
  static constexpr std::string_view kUnits = "BKMGTP";
  size_t power = unit.empty() ? 0 : kUnits.find(unit);
  if (unit.size() > 1 || power == std::string_view::npos) return bad();
  double bytes = number * std::pow(1024.0, static_cast<double>(power));
  if (bytes >= 1.8e19) return bad();
  return static_cast<uint64_t>(bytes);
}

Result<SizeOrPercent> ParseSizeOrPercent(std::string_view text) {
  SizeOrPercent v;
  if (!text.empty() && text.back() == '%') {
    double p = 0;
    std::string_view num = text.substr(0, text.size() - 1);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), p);
    if (ec != std::errc() || end != num.data() + num.size() || p < 0 || p > 100) {
      return Status::Errno(EINVAL, Quote(text), "not a percentage (0-100%)");
    }
    v.percent = p;
    return v;
  }
  Result<uint64_t> bytes = ParseSize(text);
  if (!bytes) return bytes.error();
  v.bytes = bytes.value();
  return v;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  size_t i = 0;
  while (v >= 1000 && i + 1 < std::size(kUnits)) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  if (i == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[i]);
  }
  return buf;
}

}  // namespace datumfs
