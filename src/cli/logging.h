// Log setup: spdlog to stderr in the foreground, to syslog when detached.
#ifndef DATUMFS_CLI_LOGGING_H_
#define DATUMFS_CLI_LOGGING_H_

#include <string>

#include "datumfs/status.h"

namespace datumfs {

// REQUIRES: level is one of trace, debug, info, warn, error, off (checked by the parser).
void LogToStderr(const std::string& level);
void LogToSyslog(const std::string& level);

}  // namespace datumfs

#endif  // DATUMFS_CLI_LOGGING_H_
