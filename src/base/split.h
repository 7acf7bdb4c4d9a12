// Splitting a list the user gave ("train,labels", mount options) into its items.
#ifndef DATUMFS_BASE_SPLIT_H_
#define DATUMFS_BASE_SPLIT_H_

#include <string>
#include <string_view>
#include <vector>

namespace datumfs {

// The items of `text` between `separator`s, in order; empty items are dropped ("a,,b," gives
// a and b).
std::vector<std::string> SplitNonEmpty(std::string_view text, char separator = ',');

}  // namespace datumfs

#endif  // DATUMFS_BASE_SPLIT_H_
