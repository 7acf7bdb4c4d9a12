// The URL of one input_request call: the API's URL with `input=<id>` added to its query,
// the id percent-encoded (an id with `&`, `#` or a space must not change the request).
// Private to src/fetch.
#ifndef DATUMFS_FETCH_INPUT_REQUEST_URL_H_
#define DATUMFS_FETCH_INPUT_REQUEST_URL_H_

#include <string>

namespace datumfs {

std::string InputRequestUrl(const std::string& api_url, const std::string& input_id);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_INPUT_REQUEST_URL_H_
