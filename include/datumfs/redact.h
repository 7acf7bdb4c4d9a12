// Keeping secrets out of logs, stats and error messages.
//
// Pre-signed URLs carry their signature in the query string, so every URL is passed through
// RedactUrl() before it is formatted anywhere. Pure functions; thread-safe.
#ifndef DATUMFS_REDACT_H_
#define DATUMFS_REDACT_H_

#include <string>
#include <string_view>

namespace datumfs {

// The URL without its query string, fragment and user:password part:
// "https://u:p@host/b/k?X-Amz-Signature=..." -> "https://host/b/k".
std::string RedactUrl(std::string_view url);

}  // namespace datumfs

#endif  // DATUMFS_REDACT_H_
