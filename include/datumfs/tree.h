// The tree: the immutable inode table that the mount serves.
//
// Built once from the manifest (one top-level directory per input, directories from the '/'
// in file names) and from the files that were already under the mountpoint before it was
// mounted. Entries with bad names or paths that collide are skipped with a warning (or refused
// with --strict). After Build() nothing changes, so every accessor is thread-safe without locks.
//
// Layout: a vector of 40-byte nodes; the children of a directory have consecutive ids, sorted
// by name, so Lookup() is a binary search. Names live in one arena; each file's strings (URL,
// datum id, uri, checksums) live length-prefixed in a second arena.
#ifndef DATUMFS_TREE_H_
#define DATUMFS_TREE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datumfs/manifest.h"
#include "datumfs/status.h"

namespace datumfs {

using NodeId = uint32_t;

enum class NodeKind : uint8_t {
  kDir,
  kRemoteFile,  // read lazily from its URL
  kLocalFile,   // was under the mountpoint before the mount: served from there
};

// A file or directory found under the mountpoint before mounting.
struct LocalEntry {
  std::string path;  // relative to the mountpoint, parents listed before children
  bool is_dir = false;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
};

// Lists what is under the directory `dirfd` (recursively). Entries that are neither regular
// files nor directories are left out and named in `warnings`.
Result<std::vector<LocalEntry>> ScanLocalDir(int dirfd, std::vector<std::string>* warnings);

enum class ChecksumType : uint8_t { kNone, kMd5, kSha1, kSha256 };

// The strings of a remote file, decoded from the tree's arena.
struct RemoteFileInfo {
  uint32_t input_index = 0;
  std::string_view url;  // signed: a secret
  std::string_view datum_id;
  std::string_view uri;
  ChecksumType checksum_type = ChecksumType::kNone;  // the strongest one inputs.json gave
  std::string_view checksum;                         // hex
};

struct LocalFileInfo {
  std::string_view path;  // relative to the mountpoint's underlying directory
  uint32_t mode = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
};

struct TreeOptions {
  // Refuse the whole tree on the first bad name or collision instead of skipping the entry.
  bool strict = false;
};

class Tree {
 public:
  static constexpr NodeId kRoot = 0;
  static constexpr size_t kMaxNameBytes = 255;

  // Streams inputs.json at `inputs_path` into a tree: each file goes into the tree as it is
  // parsed, so memory is the tree's, not the text's. Errors: the manifest's (bad JSON, with
  // its position), or with options.strict "<path>: <the first bad entry>".
  static Result<Tree> BuildFromFile(const std::string& inputs_path,
                                    const std::vector<LocalEntry>& local,
                                    const TreeOptions& options, std::vector<std::string>* warnings);

  // The same from a manifest in memory (tests).
  // `warnings` receives one line per skipped entry. Fails (EINVAL) only with options.strict.
  static Result<Tree> Build(const Manifest& manifest, const std::vector<LocalEntry>& local,
                            const TreeOptions& options, std::vector<std::string>* warnings);

  Tree(Tree&&) = default;
  Tree& operator=(Tree&&) = default;
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  size_t node_count() const { return nodes_.size(); }
  bool valid(NodeId id) const { return id < nodes_.size(); }
  NodeKind kind(NodeId id) const { return nodes_[id].kind; }
  bool is_dir(NodeId id) const { return nodes_[id].kind == NodeKind::kDir; }
  NodeId parent(NodeId id) const { return nodes_[id].parent; }
  std::string_view name(NodeId id) const;
  uint64_t size(NodeId id) const { return nodes_[id].size; }

  // Children of a directory: ids first_child .. first_child + child_count - 1, by name.
  NodeId first_child(NodeId dir) const { return nodes_[dir].first; }
  uint32_t child_count(NodeId dir) const { return nodes_[dir].count; }
  std::optional<NodeId> Lookup(NodeId dir, std::string_view name) const;

  // "input/dogs/a.jpg"; "" for the root.
  std::string Path(NodeId id) const;

  // REQUIRES: kind(id) == NodeKind::kRemoteFile.
  RemoteFileInfo remote(NodeId id) const;
  // REQUIRES: kind(id) == NodeKind::kLocalFile, or a directory that came from the disk.
  LocalFileInfo local(NodeId id) const;
  // True for files and directories that were on disk before the mount.
  bool has_local(NodeId id) const {
    return nodes_[id].kind == NodeKind::kLocalFile ||
           (nodes_[id].kind == NodeKind::kDir && nodes_[id].record != kNoRecord);
  }

  const std::vector<Input>& inputs() const { return inputs_; }
  // The remote files of each input (by index), in the order inputs.json lists them.
  std::vector<std::vector<NodeId>> FilesInManifestOrder() const;
  // The sum of all file sizes (for statfs).
  uint64_t total_file_bytes() const { return total_file_bytes_; }

 private:
  static constexpr uint64_t kNoRecord = ~uint64_t{0};
  struct Node {
    uint64_t size = 0;
    uint64_t record = kNoRecord;  // files (and local dirs): offset of their record in records_
    uint32_t parent = 0;
    uint32_t name_offset = 0;
    uint32_t first = 0;  // directories: id of the first child
    uint32_t count = 0;  // directories: number of children
    uint16_t name_length = 0;
    NodeKind kind = NodeKind::kDir;
  };
  static_assert(sizeof(Node) == 40);
  friend class TreeBuilder;

  Tree() = default;

  std::vector<Node> nodes_;
  std::string names_;
  std::string records_;
  std::vector<Input> inputs_;
  uint64_t total_file_bytes_ = 0;
};

}  // namespace datumfs

#endif  // DATUMFS_TREE_H_
