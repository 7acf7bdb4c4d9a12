#include "datumfs/tree.h"

#include <algorithm>
#include <cerrno>
#include <deque>
#include <map>

#include "datumfs/quote.h"
#include "tree/record.h"

namespace datumfs {

namespace {

// Why a path segment cannot be a name in the tree, or nullptr if it can.
const char* BadSegment(std::string_view segment) {
  if (segment.empty()) return "empty path segment";
  if (segment == "." || segment == "..") return "'.' or '..' path segment";
  if (segment.find('\0') != std::string_view::npos) return "NUL byte in name";
  if (segment.size() > Tree::kMaxNameBytes) return "path segment longer than 255 bytes";
  return nullptr;
}

// Splits "a/b/c" into segments; returns the reason the path is unusable, or nullptr.
const char* SplitPath(std::string_view path, std::vector<std::string_view>* out) {
  if (path.empty()) return "empty name";
  if (path.front() == '/') return "absolute path";
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view segment = path.substr(start, slash - start);
    if (const char* bad = BadSegment(segment)) return bad;
    out->push_back(segment);
    if (slash == std::string_view::npos) return nullptr;
    start = slash + 1;
  }
}

}  // namespace

// Builds with mutable, map-linked nodes, then flattens them breadth first so that every
// directory's children get consecutive ids in name order.
class TreeBuilder : public ManifestSink {
 public:
  explicit TreeBuilder(const TreeOptions& options, std::vector<std::string>* warnings)
      : options_(options), warnings_(warnings) {
    nodes_.emplace_back();  // the root
  }

  Status AddLocal(const LocalEntry& entry);
  Status OnFile(const Input& input, const InputFile& file, size_t index_in_input) override;
  // Adds the directories of inputs that had no files, then flattens.
  Result<Tree> Finish(std::vector<Input> inputs);
  // True if a strict-mode refusal stopped the build.
  bool refused() const { return refused_; }

 private:
  struct BNode {
    std::string name;
    NodeKind kind = NodeKind::kDir;
    uint64_t size = 0;
    uint64_t record = Tree::kNoRecord;
    std::map<std::string_view, uint32_t> children;
  };

  // Walks/creates the directories of `segments` but the last. Returns the parent, or sets
  // `*why` to the path where a file stands in the way.
  std::optional<uint32_t> MakeParents(const std::vector<std::string_view>& segments,
                                      std::string* why);
  uint32_t AddChild(uint32_t parent, std::string_view name, NodeKind kind);
  Status Skip(std::string label, std::string_view reason);
  // Every input gets its directory, even with no files. Returns false if the name is unusable.
  Result<bool> AddInputDir(const Input& input);
  Status AddRemote(const Input& input, const InputFile& file, size_t index_in_input);

  const TreeOptions& options_;
  std::vector<std::string>* warnings_;
  std::deque<BNode> nodes_;  // deque: names stay put while map keys point at them
  std::string records_;
  std::vector<int8_t> usable_;  // per input index: -1 not seen yet, 0 skipped, 1 has its dir
  bool refused_ = false;
};

Status TreeBuilder::Skip(std::string label, std::string_view reason) {
  std::string line = std::move(label) + ": " + std::string(reason);
  if (options_.strict) {
    refused_ = true;
    return Status::Errno(EINVAL, line);
  }
  warnings_->push_back(line + "; skipped");
  return Status();
}

uint32_t TreeBuilder::AddChild(uint32_t parent, std::string_view name, NodeKind kind) {
  uint32_t id = static_cast<uint32_t>(nodes_.size());
  BNode& node = nodes_.emplace_back();
  node.name = std::string(name);
  node.kind = kind;
  nodes_[parent].children.emplace(node.name, id);
  return id;
}

std::optional<uint32_t> TreeBuilder::MakeParents(const std::vector<std::string_view>& segments,
                                                 std::string* why) {
  uint32_t dir = 0;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    auto it = nodes_[dir].children.find(segments[i]);
    if (it == nodes_[dir].children.end()) {
      dir = AddChild(dir, segments[i], NodeKind::kDir);
    } else if (nodes_[it->second].kind != NodeKind::kDir) {
      *why = "a file stands where a directory is needed";
      return std::nullopt;
    } else {
      dir = it->second;
    }
  }
  return dir;
}

Status TreeBuilder::AddLocal(const LocalEntry& entry) {
  std::vector<std::string_view> segments;
  std::string label = Quote(entry.path) + " (already under the mountpoint)";
  if (const char* bad = SplitPath(entry.path, &segments)) return Skip(label, bad);
  std::string why;
  std::optional<uint32_t> parent = MakeParents(segments, &why);
  if (!parent) return Skip(label, why);
  auto& siblings = nodes_[*parent].children;
  auto it = siblings.find(segments.back());
  uint32_t id = it != siblings.end() ? it->second
                : AddChild(*parent, segments.back(),
                           entry.is_dir ? NodeKind::kDir : NodeKind::kLocalFile);
  BNode& node = nodes_[id];
  node.size = entry.size;
  node.record = records_.size();
  record::PutString(&records_, entry.path);
  record::PutFixed<uint32_t>(&records_, entry.mode);
  record::PutFixed<int64_t>(&records_, entry.mtime_sec);
  record::PutFixed<uint32_t>(&records_, entry.mtime_nsec);
  return Status();
}

Result<bool> TreeBuilder::AddInputDir(const Input& input) {
  std::string label = "input " + Quote(input.name);
  const char* bad = input.name.find('/') != std::string::npos ? "input name holds '/'"
                                                               : BadSegment(input.name);
  if (bad) {
    if (Status s = Skip(label, bad); !s.ok()) return s;
    return false;
  }
  auto it = nodes_[0].children.find(input.name);
  if (it == nodes_[0].children.end()) {
    AddChild(0, input.name, NodeKind::kDir);
  } else if (nodes_[it->second].kind != NodeKind::kDir) {
    if (Status s = Skip(label, "a file has the same path"); !s.ok()) return s;
    return false;
  }
  return true;
}

Status TreeBuilder::OnFile(const Input& input, const InputFile& file, size_t index_in_input) {
  if (file.input_index >= usable_.size()) usable_.resize(file.input_index + 1, -1);
  int8_t& usable = usable_[file.input_index];
  if (usable < 0) {
    Result<bool> added = AddInputDir(input);
    if (!added) return added.error();
    usable = added.value() ? 1 : 0;
  }
  if (usable == 0) return Status();  // the input's name was reported already
  return AddRemote(input, file, index_in_input);
}

Status TreeBuilder::AddRemote(const Input& input, const InputFile& file,
                              size_t index_in_input) {
  std::string label = "input " + Quote(input.name) + ", file " +
                      std::to_string(index_in_input) + " (" + Quote(file.name) + ")";
  std::vector<std::string_view> segments{input.name};
  if (const char* bad = SplitPath(file.name, &segments)) return Skip(label, bad);
  if (file.size > static_cast<uint64_t>(INT64_MAX)) {  // st_size and offsets are signed
    return Skip(label, "size " + std::to_string(file.size) + " is larger than a file can be");
  }
  std::string why;
  std::optional<uint32_t> parent = MakeParents(segments, &why);
  if (!parent) return Skip(label, why);
  auto& siblings = nodes_[*parent].children;
  if (auto it = siblings.find(segments.back()); it != siblings.end()) {
    const BNode& other = nodes_[it->second];
    if (other.kind == NodeKind::kLocalFile) return Status();  // downloaded before the mount
    return Skip(label, other.kind == NodeKind::kDir ? "a directory has the same path"
                                                    : "another file has the same path");
  }
  BNode& node = nodes_[AddChild(*parent, segments.back(), NodeKind::kRemoteFile)];
  node.size = file.size;
  node.record = records_.size();
  record::PutFixed<uint32_t>(&records_, file.input_index);
  record::PutString(&records_, file.storage_uri);
  record::PutString(&records_, file.datum_id);
  record::PutString(&records_, file.uri);
  // Only the strongest checksum is kept: it is the one a full read is verified against.
  const Checksums& c = file.checksums;
  auto [type, sum] = !c.sha256.empty() ? std::pair{ChecksumType::kSha256, &c.sha256}
                     : !c.sha1.empty() ? std::pair{ChecksumType::kSha1, &c.sha1}
                     : !c.md5.empty()  ? std::pair{ChecksumType::kMd5, &c.md5}
                                       : std::pair{ChecksumType::kNone, &c.md5};
  record::PutFixed<ChecksumType>(&records_, type);
  record::PutString(&records_, *sum);
  return Status();
}

Result<Tree> TreeBuilder::Finish(std::vector<Input> inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i < usable_.size() && usable_[i] >= 0) continue;
    if (Result<bool> added = AddInputDir(inputs[i]); !added) return added.error();
  }
  Tree tree;
  tree.inputs_ = std::move(inputs);
  tree.records_ = std::move(records_);
  tree.nodes_.resize(nodes_.size());
  std::vector<uint32_t> order{0};  // builder ids in breadth-first order; position = new id
  order.reserve(nodes_.size());
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const BNode& b = nodes_[order[pos]];
    Tree::Node& n = tree.nodes_[pos];
    n.kind = b.kind;
    n.size = b.size;
    tree.total_file_bytes_ += b.size;
    n.record = b.record;
    n.name_offset = static_cast<uint32_t>(tree.names_.size());
    n.name_length = static_cast<uint16_t>(b.name.size());
    tree.names_ += b.name;
    n.first = static_cast<uint32_t>(order.size());
    n.count = static_cast<uint32_t>(b.children.size());
    for (const auto& [name, child] : b.children) {
      tree.nodes_[order.size()].parent = static_cast<uint32_t>(pos);
      order.push_back(child);
    }
  }
  return tree;
}

Result<Tree> Tree::Build(const Manifest& manifest, const std::vector<LocalEntry>& local,
                         const TreeOptions& options, std::vector<std::string>* warnings) {
  TreeBuilder builder(options, warnings);
  for (const LocalEntry& entry : local) {
    if (Status s = builder.AddLocal(entry); !s.ok()) return s;
  }
  std::vector<size_t> next_index(manifest.inputs.size(), 0);
  for (const InputFile& file : manifest.files) {
    const Input& input = manifest.inputs[file.input_index];
    if (Status s = builder.OnFile(input, file, next_index[file.input_index]++); !s.ok()) return s;
  }
  return builder.Finish(manifest.inputs);
}

Result<Tree> Tree::BuildFromFile(const std::string& inputs_path,
                                 const std::vector<LocalEntry>& local, const TreeOptions& options,
                                 std::vector<std::string>* warnings) {
  TreeBuilder builder(options, warnings);
  for (const LocalEntry& entry : local) {
    if (Status s = builder.AddLocal(entry); !s.ok()) return s;
  }
  Result<std::vector<Input>> inputs = ReadInputs(inputs_path, builder);
  if (!inputs) {
    if (builder.refused()) return Status::Errno(EINVAL, inputs_path, inputs.error().message());
    return inputs.error();
  }
  Result<Tree> tree = builder.Finish(std::move(inputs).value());
  if (!tree && builder.refused()) {
    return Status::Errno(EINVAL, inputs_path, tree.error().message());
  }
  return tree;
}

std::string_view Tree::name(NodeId id) const {
  return std::string_view(names_).substr(nodes_[id].name_offset, nodes_[id].name_length);
}

std::optional<NodeId> Tree::Lookup(NodeId dir, std::string_view name) const {
  const Node& d = nodes_[dir];
  if (d.kind != NodeKind::kDir) return std::nullopt;
  NodeId lo = d.first, hi = d.first + d.count;
  while (lo < hi) {
    NodeId mid = lo + (hi - lo) / 2;
    if (this->name(mid) < name) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < d.first + d.count && this->name(lo) == name) return lo;
  return std::nullopt;
}

std::string Tree::Path(NodeId id) const {
  std::vector<std::string_view> parts;
  for (; id != kRoot; id = nodes_[id].parent) parts.push_back(name(id));
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += *it;
  }
  return path;
}

std::vector<std::vector<NodeId>> Tree::FilesInManifestOrder() const {
  std::vector<std::vector<NodeId>> files(inputs_.size());
  for (NodeId id = 0; id < nodes_.size(); ++id) {
    if (nodes_[id].kind != NodeKind::kRemoteFile) continue;
    uint64_t offset = nodes_[id].record;
    const uint32_t input = record::GetFixed<uint32_t>(records_, &offset);
    if (input < files.size()) files[input].push_back(id);
  }
  // Records were appended as inputs.json was parsed: their offsets are its order.
  for (std::vector<NodeId>& f : files) {
    std::sort(f.begin(), f.end(),
              [this](NodeId a, NodeId b) { return nodes_[a].record < nodes_[b].record; });
  }
  return files;
}

RemoteFileInfo Tree::remote(NodeId id) const {
  uint64_t offset = nodes_[id].record;
  RemoteFileInfo info;
  info.input_index = record::GetFixed<uint32_t>(records_, &offset);
  info.url = record::GetString(records_, &offset);
  info.datum_id = record::GetString(records_, &offset);
  info.uri = record::GetString(records_, &offset);
  info.checksum_type = record::GetFixed<ChecksumType>(records_, &offset);
  info.checksum = record::GetString(records_, &offset);
  return info;
}

LocalFileInfo Tree::local(NodeId id) const {
  uint64_t offset = nodes_[id].record;
  LocalFileInfo info;
  info.path = record::GetString(records_, &offset);
  info.mode = record::GetFixed<uint32_t>(records_, &offset);
  info.mtime_sec = record::GetFixed<int64_t>(records_, &offset);
  info.mtime_nsec = record::GetFixed<uint32_t>(records_, &offset);
  return info;
}

}  // namespace datumfs
