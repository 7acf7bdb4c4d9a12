// Validation of options that are durations in seconds.
#ifndef DATUMFS_CLI_SECONDS_H_
#define DATUMFS_CLI_SECONDS_H_

#include <CLI/CLI.hpp>

namespace datumfs {

// The longest duration any option takes: a week. Anything longer would overflow a deadline.
constexpr double kMaxSeconds = 7 * 24 * 3600;

// A finite number of seconds, above 0 (or at least 0 with `zero_allowed`), at most a week.
// CLI11's PositiveNumber lets "nan", "inf" and 1e300 through, and such values overflowed
// into deadlines that had passed before they began.
CLI::Validator Seconds(bool zero_allowed = false);

}  // namespace datumfs

#endif  // DATUMFS_CLI_SECONDS_H_
