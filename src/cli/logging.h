// Log setup: spdlog to stderr in the foreground, to syslog or a file (--log-file) when detached.
#ifndef DATUMFS_CLI_LOGGING_H_
#define DATUMFS_CLI_LOGGING_H_

#include <string>

#include "datumfs/status.h"

namespace datumfs {

// REQUIRES: level is one of trace, debug, info, warn, error, off (checked by the parser).
void LogToStderr(const std::string& level);
void LogToSyslog(const std::string& level);
// Appends to `path` (created 0600 if missing). An error names the file.
Status LogToFile(const std::string& path, const std::string& level);

}  // namespace datumfs

#endif  // DATUMFS_CLI_LOGGING_H_
