#include "reader/walk_ahead.h"

#include <algorithm>
#include <atomic>

#include "reader/open_file.h"

namespace datumfs {
namespace {

std::vector<NodeId> WalkOrder(const Tree& tree) {
  std::vector<NodeId> order;
  std::vector<NodeId> dirs{Tree::kRoot};  // a stack: a directory's entries in listed order
  while (!dirs.empty()) {
    NodeId dir = dirs.back();
    dirs.pop_back();
    const NodeId first = tree.first_child(dir);
    const NodeId end = first + tree.child_count(dir);
    for (NodeId id = first; id < end; ++id) {
      if (tree.kind(id) == NodeKind::kRemoteFile) order.push_back(id);
    }
    for (NodeId id = end; id > first; --id) {  // subdirectories after the files, in order
      if (tree.is_dir(id - 1)) dirs.push_back(id - 1);
    }
  }
  return order;
}

std::vector<uint32_t> Positions(const Tree& tree, const std::vector<NodeId>& order) {
  std::vector<uint32_t> position(tree.node_count(), UINT32_MAX);
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<uint32_t>(i);
  return position;
}

}  // namespace

WalkAhead::WalkAhead(const Tree& tree, WalkOptions options, FetchWholeFn fetch_whole)
    : order_(WalkOrder(tree)),
      position_(Positions(tree, order_)),
      keep_(2 * options.max_window),
      fetch_whole_(std::move(fetch_whole)),
      detector_(options, static_cast<uint32_t>(order_.size())) {}

std::shared_ptr<OpenFile> WalkAhead::Take(NodeId node) {
  std::shared_ptr<OpenFile> file;
  {
    MutexLock lock(&mu_);
    auto it = std::find_if(fetched_.begin(), fetched_.end(),
                           [node](const auto& f) { return f.first == node; });
    if (it == fetched_.end()) return nullptr;
    file = std::move(it->second);
    fetched_.erase(it);
  }
  MutexLock lock(&file->mu_);
  if (file->ranges_.empty()) return nullptr;  // its fetch failed: the open fetches anew
  ++taken_;
  return file;
}

void WalkAhead::Opened(NodeId node) {
  if (node >= position_.size() || position_[node] == UINT32_MAX) return;
  WalkRange ahead;
  {
    MutexLock lock(&mu_);
    ahead = detector_.Opened(position_[node]);
  }
  for (uint32_t p = ahead.begin; p < ahead.end; ++p) {
    std::shared_ptr<OpenFile> file = fetch_whole_(order_[p]);
    if (!file) continue;  // out of budget, or not worth it
    MutexLock lock(&mu_);
    fetched_.emplace_back(order_[p], std::move(file));
    while (fetched_.size() > keep_) fetched_.pop_front();
  }
}

}  // namespace datumfs
