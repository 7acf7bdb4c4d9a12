#include "cli/seconds.h"

#include <cmath>
#include <string>

namespace datumfs {

CLI::Validator Seconds(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "\"" + text + "\" is not a number of seconds";
        } catch (const std::exception&) {
          return "\"" + text + "\" is not a number of seconds";
        }
        if (!std::isfinite(v) || v < 0 || (v == 0 && !zero_allowed) || v > kMaxSeconds) {
          return "\"" + text + "\" seconds: give a number " +
                 (zero_allowed ? std::string("from 0") : std::string("above 0")) +
                 " up to " + std::to_string(static_cast<int>(kMaxSeconds)) + " (a week)";
        }
        return "";
      },
      "SECONDS");
}

}  // namespace datumfs
