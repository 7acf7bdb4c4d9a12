// What the reader's unit tests share: a tree of remote files and a Fetcher whose requests the
// test answers by hand.
#ifndef DATUMFS_TEST_UNIT_READER_FIXTURES_H_
#define DATUMFS_TEST_UNIT_READER_FIXTURES_H_

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "datumfs/fetch.h"
#include "datumfs/tree.h"

namespace datumfs {

struct RemoteFile {
  std::string name;
  uint64_t size;
  std::string sha256;  // empty: none
};

// One input "in" holding `files`, on-demand, at https://store/<name>?sig=s.
inline Tree RemoteTree(const std::vector<RemoteFile>& files) {
  Manifest m;
  m.inputs.push_back(Input{"in", "id-in"});
  for (const RemoteFile& r : files) {
    InputFile f;
    f.name = r.name;
    f.datum_id = "datum-" + r.name;
    f.download_intent = "on-demand";
    f.storage_uri = "https://store/" + r.name + "?sig=s";
    f.uri = "datum://" + r.name;
    f.size = r.size;
    f.checksums.sha256 = r.sha256;
    m.files.push_back(f);
  }
  std::vector<std::string> warnings;
  Result<Tree> t = Tree::Build(m, {}, TreeOptions{}, &warnings);
  REQUIRE(t.has_value());
  return std::move(t).value();
}

inline NodeId FileNode(const Tree& tree, const std::string& name) {
  std::optional<NodeId> input = tree.Lookup(Tree::kRoot, "in");
  REQUIRE(input.has_value());
  std::optional<NodeId> node = tree.Lookup(*input, name);
  REQUIRE(node.has_value());
  return *node;
}

// Keeps every request; the test answers them (Answer) in any order, on its own thread.
class ManualFetcher : public Fetcher {
 public:
  struct Pending {
    RangeRequest request;
    FetchDone done;
  };
  void Submit(RangeRequest request, FetchDone done) override {
    pending.push_back(Pending{std::move(request), std::move(done)});
  }
  FetchCounters counters() const override { return {}; }

  // Answers request `i` with `status` and, if it is OK, the bytes `content` holds for it
  // (through its sink when it has one).
  void Answer(size_t i, const Status& status, const std::string& content = "") {
    Pending& p = pending.at(i);
    if (!status.ok()) return p.done(status, "");
    const uint64_t from = p.request.sink ? 0 : p.request.offset;
    const uint64_t to = p.request.sink ? p.request.object_size : p.request.offset + p.request.length;
    if (!p.request.sink) return p.done(status, content.substr(from, to - from));
    for (uint64_t off = from; off < to; off += 100000) {
      p.request.sink(off, std::string_view(content).substr(off, std::min<uint64_t>(100000, to - off)));
    }
    p.done(status, "");
  }

  std::vector<Pending> pending;
};

}  // namespace datumfs

#endif  // DATUMFS_TEST_UNIT_READER_FIXTURES_H_
