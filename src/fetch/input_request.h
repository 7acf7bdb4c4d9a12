// One call of Valohai's input_request API (shared/seeds/000): POST "<url>&input=<input_id>"
// with the api.json headers; the answer lists every file of that input with a fresh URL.
// Private to src/fetch.
#ifndef DATUMFS_FETCH_INPUT_REQUEST_H_
#define DATUMFS_FETCH_INPUT_REQUEST_H_

#include <atomic>
#include <map>
#include <string>

#include "datumfs/status.h"
#include "datumfs/url_refresher.h"

namespace datumfs {

// Filename -> URL for every file of the input, or why not (naming the input, never a secret).
// Gives up early once `*abort` is true.
Result<std::map<std::string, std::string>> RequestInputUrls(const InputRequestApi& api,
                                                           const RefreshOptions& options,
                                                           const std::string& input_id,
                                                           const std::string& input_name,
                                                           std::atomic<bool>* abort);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_INPUT_REQUEST_H_
