// When a pre-signed URL stops working, read from its query string. Pure; thread-safe.
#ifndef DATUMFS_FETCH_URL_EXPIRY_H_
#define DATUMFS_FETCH_URL_EXPIRY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace datumfs {

// Seconds since the epoch at which `url` expires, or nullopt if it does not say. Knows
// S3 (X-Amz-Date + X-Amz-Expires; v2 Expires), GCS (X-Goog-Date + X-Goog-Expires; v2
// Expires), Azure SAS (se), OpenStack Swift (temp_url_expires) and nginx secure_link
// (expires).
std::optional<int64_t> UrlExpiresAt(std::string_view url);

// The value of query parameter `name` in `url`, percent-decoded; nullopt if absent.
std::optional<std::string> QueryParam(std::string_view url, std::string_view name);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_URL_EXPIRY_H_
