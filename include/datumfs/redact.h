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

// What names the object a URL points at: the URL without its fragment, its user:password part
// and the parameters that only sign it (S3 X-Amz-*/AWSAccessKeyId/Signature/Expires, GCS
// X-Goog-*/GoogleAccessId, Azure SAS sv/se/sig/..., Swift temp_url_*, nginx secure_link
// md5/expires), the others kept in their order: "?versionId=2" or "download?k=a.bin" name
// another object than "?versionId=1" or "download?k=b.bin". For keys only, never for logs.
std::string ObjectIdentity(std::string_view url);

}  // namespace datumfs

#endif  // DATUMFS_REDACT_H_
