// Names from inputs.json in messages: quoted, with control bytes escaped so that a name
// holding a newline or NUL cannot forge or cut a log line. Pure; thread-safe.
#ifndef DATUMFS_QUOTE_H_
#define DATUMFS_QUOTE_H_

#include <string>
#include <string_view>

namespace datumfs {

// "a\nb" -> "\"a\\x0ab\"" (that is: "a\x0ab" with the quotes).
std::string Quote(std::string_view name);

}  // namespace datumfs

#endif  // DATUMFS_QUOTE_H_
