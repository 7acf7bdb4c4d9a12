// Formatting of manifest errors: "<file>:<line>:<column> (byte <offset>): <reason>".
#ifndef DATUMFS_MANIFEST_JSON_ERROR_H_
#define DATUMFS_MANIFEST_JSON_ERROR_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "datumfs/status.h"

namespace datumfs {

// `text` is the document (or at least its first `offset` bytes).
Status JsonError(std::string_view display_name, std::string_view text, size_t offset,
                 std::string_view reason);

// Reads the whole file at `path` into `text`; only used on error paths and for small files.
Status ReadWholeFile(const std::string& path, std::string* text);

}  // namespace datumfs

#endif  // DATUMFS_MANIFEST_JSON_ERROR_H_
