// How deeply a JSON text nests, without parsing it: a DOM parser recurses once per level (and
// so does a DOM's destructor), so a hostile document a million levels deep would overflow the
// stack. Small documents (api.json, an input_request answer) are checked before they are
// parsed. Pure; thread-safe.
#ifndef DATUMFS_JSON_DEPTH_H_
#define DATUMFS_JSON_DEPTH_H_

#include <cstddef>
#include <string_view>

namespace datumfs {

// Documents nested deeper than this are refused.
constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count).
size_t JsonNestingDepth(std::string_view text);

}  // namespace datumfs

#endif  // DATUMFS_JSON_DEPTH_H_
