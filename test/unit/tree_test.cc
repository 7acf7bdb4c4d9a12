#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "datumfs/tree.h"

namespace datumfs {
namespace {

struct F {
  std::string input;
  std::string name;
  uint64_t size = 1;
};

Manifest Make(const std::vector<F>& files) {
  Manifest m;
  for (const F& f : files) {
    uint32_t index = 0;
    while (index < m.inputs.size() && m.inputs[index].name != f.input) ++index;
    if (index == m.inputs.size()) m.inputs.push_back(Input{f.input, "id-" + f.input});
    InputFile file;
    file.input_index = index;
    file.name = f.name;
    file.size = f.size;
    file.storage_uri = "https://store/" + f.input + "/" + f.name + "?sig=s";
    file.datum_id = "datum-" + f.name;
    file.uri = "datum://" + f.name;
    file.checksums.sha256 = "h";
    m.files.push_back(file);
  }
  return m;
}

Tree Build(const Manifest& m, std::vector<std::string>* warnings,
           const std::vector<LocalEntry>& local = {}) {
  Result<Tree> t = Tree::Build(m, local, TreeOptions{}, warnings);
  REQUIRE(t.has_value());
  return std::move(t).value();
}

NodeId Resolve(const Tree& t, const std::string& path) {
  NodeId id = Tree::kRoot;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash - start);
    std::optional<NodeId> next = t.Lookup(id, part);
    REQUIRE_MESSAGE(next.has_value(), path);
    id = *next;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return id;
}

}  // namespace

TEST_SUITE("tree") {
  TEST_CASE("builds directories from slashes, one per input, children sorted") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"train", "dogs/b.jpg", 10}, {"train", "dogs/a.jpg", 20},
                         {"train", "labels.csv", 5}, {"test", "x", 0}}),
                   &w);
    CHECK(w.empty());
    REQUIRE(t.child_count(Tree::kRoot) == 2);
    CHECK(t.name(t.first_child(Tree::kRoot)) == "test");
    CHECK(t.name(t.first_child(Tree::kRoot) + 1) == "train");
    NodeId dogs = Resolve(t, "train/dogs");
    CHECK(t.is_dir(dogs));
    REQUIRE(t.child_count(dogs) == 2);
    CHECK(t.name(t.first_child(dogs)) == "a.jpg");
    CHECK(t.name(t.first_child(dogs) + 1) == "b.jpg");
    NodeId a = Resolve(t, "train/dogs/a.jpg");
    CHECK(t.kind(a) == NodeKind::kRemoteFile);
    CHECK(t.size(a) == 20);
    CHECK(t.parent(a) == dogs);
    CHECK(t.Path(a) == "train/dogs/a.jpg");
    RemoteFileInfo info = t.remote(a);
    CHECK(info.url == "https://store/train/dogs/a.jpg?sig=s");
    CHECK(info.datum_id == "datum-dogs/a.jpg");
    CHECK(info.uri == "datum://dogs/a.jpg");
    CHECK(info.checksum_type == ChecksumType::kSha256);
    CHECK(info.checksum == "h");
    CHECK(t.inputs()[info.input_index].name == "train");
    CHECK(t.total_file_bytes() == 35);
  }

  TEST_CASE("an input's files in inputs.json order, not in listing order") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", "z/b"}, {"j", "x"}, {"i", "a"}, {"i", "z/a"}}), &w);
    std::vector<std::vector<NodeId>> files = t.FilesInManifestOrder();
    REQUIRE(files.size() == 2);
    CHECK(files[0] ==
          std::vector<NodeId>{Resolve(t, "i/z/b"), Resolve(t, "i/a"), Resolve(t, "i/z/a")});
    CHECK(files[1] == std::vector<NodeId>{Resolve(t, "j/x")});
  }

  TEST_CASE("lookup misses return nothing") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", "a"}, {"i", "c"}}), &w);
    NodeId i = Resolve(t, "i");
    CHECK_FALSE(t.Lookup(i, "b").has_value());
    CHECK_FALSE(t.Lookup(i, "").has_value());
    CHECK_FALSE(t.Lookup(i, "d").has_value());
    CHECK_FALSE(t.Lookup(Resolve(t, "i/a"), "x").has_value());  // not a directory
  }

  TEST_CASE("an input with no files is an empty directory") {
    std::vector<std::string> w;
    Manifest m = Make({{"a", "f"}});
    m.inputs.push_back(Input{"empty", "e"});
    Tree t = Build(m, &w);
    NodeId e = Resolve(t, "empty");
    CHECK(t.is_dir(e));
    CHECK(t.child_count(e) == 0);
  }

  TEST_CASE("bad names are skipped with a warning naming them") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", "/abs"}, {"i", "../up"}, {"i", "a/./b"}, {"i", "a//b"},
                         {"i", "trailing/"}, {"i", std::string("nul\0x", 5)},
                         {"i", std::string(256, 'n')}, {"i", ""}, {"i", "ok"}}),
                   &w);
    REQUIRE(w.size() == 8);
    CHECK(w[0] == "input \"i\", file 0 (\"/abs\"): absolute path; skipped");
    CHECK(w[1] == "input \"i\", file 1 (\"../up\"): '.' or '..' path segment; skipped");
    CHECK(w[2] == "input \"i\", file 2 (\"a/./b\"): '.' or '..' path segment; skipped");
    CHECK(w[3] == "input \"i\", file 3 (\"a//b\"): empty path segment; skipped");
    CHECK(w[4] == "input \"i\", file 4 (\"trailing/\"): empty path segment; skipped");
    CHECK(w[5] == "input \"i\", file 5 (\"nul\\x00x\"): NUL byte in name; skipped");
    CHECK(w[6] == "input \"i\", file 6 (\"" + std::string(256, 'n') +
                      "\"): path segment longer than 255 bytes; skipped");
    CHECK(w[7] == "input \"i\", file 7 (\"\"): empty name; skipped");
    NodeId i = Resolve(t, "i");
    REQUIRE(t.child_count(i) == 1);  // "ok" (and no half-made "a" directory)
    CHECK(t.name(t.first_child(i)) == "ok");
  }

  TEST_CASE("a size past 2^63-1 is a bad entry") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", "huge", uint64_t{1} << 63}, {"i", "max", INT64_MAX}}), &w);
    REQUIRE(w.size() == 1);
    CHECK(w[0] == "input \"i\", file 0 (\"huge\"): size 9223372036854775808 is larger than a "
                  "file can be; skipped");
    CHECK(t.size(Resolve(t, "i/max")) == uint64_t{INT64_MAX});
  }

  TEST_CASE("a 255-byte segment is fine") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", std::string(255, 'n')}}), &w);
    CHECK(w.empty());
  }

  TEST_CASE("collisions keep the first entry and warn about the rest") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"i", "a", 1}, {"i", "a", 2}, {"i", "d/x"}, {"i", "d"},
                         {"i", "a/y"}}),
                   &w);
    REQUIRE(w.size() == 3);
    CHECK(w[0] == "input \"i\", file 1 (\"a\"): another file has the same path; skipped");
    CHECK(w[1] == "input \"i\", file 3 (\"d\"): a directory has the same path; skipped");
    CHECK(w[2] ==
          "input \"i\", file 4 (\"a/y\"): a file stands where a directory is needed; skipped");
    CHECK(t.size(Resolve(t, "i/a")) == 1);
  }

  TEST_CASE("bad input names are skipped with their files") {
    std::vector<std::string> w;
    Tree t = Build(Make({{"..", "a"}, {"x/y", "b"}, {"ok", "c"}}), &w);
    REQUIRE(w.size() == 2);
    CHECK(w[0] == "input \"..\": '.' or '..' path segment; skipped");
    CHECK(w[1] == "input \"x/y\": input name holds '/'; skipped");
    CHECK(t.child_count(Tree::kRoot) == 1);
  }

  TEST_CASE("strict mode refuses the first bad entry") {
    std::vector<std::string> w;
    Result<Tree> t = Tree::Build(Make({{"i", "ok"}, {"i", "../x"}}), {}, TreeOptions{true}, &w);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().errno_value() == EINVAL);
    CHECK(t.error().message() == "input \"i\", file 1 (\"../x\"): '.' or '..' path segment");
  }

  TEST_CASE("files already under the mountpoint win over remote ones at the same path") {
    std::vector<std::string> w;
    std::vector<LocalEntry> local = {
        {"config", true, 0, 0755, 100, 5},
        {"config/c.json", false, 42, 0644, 200, 7},
        {"train", true, 0, 0700, 1, 0},
        {"train/a", false, 3, 0600, 1, 0},
    };
    Tree t = Build(Make({{"train", "a", 999}, {"train", "b", 4}}), &w, local);
    CHECK(w.empty());
    NodeId c = Resolve(t, "config/c.json");
    CHECK(t.kind(c) == NodeKind::kLocalFile);
    CHECK(t.size(c) == 42);
    CHECK(t.local(c).path == "config/c.json");
    CHECK(t.local(c).mode == 0644);
    CHECK(t.local(c).mtime_sec == 200);
    NodeId a = Resolve(t, "train/a");
    CHECK(t.kind(a) == NodeKind::kLocalFile);
    CHECK(t.size(a) == 3);
    CHECK(t.kind(Resolve(t, "train/b")) == NodeKind::kRemoteFile);
    CHECK(t.has_local(Resolve(t, "train")));
    CHECK(t.local(Resolve(t, "train")).mode == 0700);
    CHECK_FALSE(t.has_local(Resolve(t, "train/b")));
  }

  TEST_CASE("nodes stay compact") {
    // 40 bytes a node, plus the record's length prefixes: well under 100 bytes a file.
    std::vector<F> files;
    for (int i = 0; i < 1000; ++i) files.push_back({"i", "f" + std::to_string(i)});
    std::vector<std::string> w;
    Tree t = Build(Make(files), &w);
    CHECK(t.node_count() == 1002);
  }
}

}  // namespace datumfs
