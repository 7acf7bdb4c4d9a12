// What the reader's unit tests share: a tree of remote files, a Fetcher whose requests the
// test answers by hand, a block cache in memory.
#ifndef DATUMFS_TEST_UNIT_READER_FIXTURES_H_
#define DATUMFS_TEST_UNIT_READER_FIXTURES_H_

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "datumfs/cache.h"
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

// A fake fetcher's memory of the requests it was given, in order. Thread-safe.
class RecordingFetcher : public Fetcher {
 public:
  FetchCounters counters() const override { return {}; }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }
  RangeRequest request(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.at(i);
  }
  std::vector<ByteRange> ranges() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ByteRange> out;
    for (const RangeRequest& r : requests_) out.push_back(ByteRange{r.offset, r.length});
    return out;
  }

 protected:
  // Remembers `request` (and `done`, taken back by TakeDone); returns its index.
  size_t Record(const RangeRequest& request, FetchDone done = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    dones_.push_back(std::move(done));
    return requests_.size() - 1;
  }
  FetchDone TakeDone(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(dones_.at(i));
  }

 private:
  std::mutex mu_;
  std::vector<RangeRequest> requests_;
  std::vector<FetchDone> dones_;
};

// Answers every request at once, inside Submit, with zero bytes.
class AnsweringFetcher : public RecordingFetcher {
 public:
  void Submit(RangeRequest request, FetchDone done) override {
    Record(request);
    done(FetchResult{}, std::string(request.length, '\0'));
  }
};

// Keeps every request; the test answers them (Answer) in any order, on its own thread.
class ManualFetcher : public RecordingFetcher {
 public:
  void Submit(RangeRequest request, FetchDone done) override { Record(request, std::move(done)); }

  // Answers request `i` with `result` and, if it is OK, the bytes `content` holds for it
  // (through its sink when it has one).
  void Answer(size_t i, const FetchResult& result, const std::string& content = "") {
    RangeRequest r = request(i);
    FetchDone done = TakeDone(i);
    if (!result.ok()) return done(result, "");
    if (!r.sink) return done(result, content.substr(r.offset, r.length));
    for (uint64_t off = 0; off < r.object_size; off += 100000) {
      r.sink(off, std::string_view(content).substr(off, std::min<uint64_t>(100000, r.object_size - off)));
    }
    done(result, "");
  }
};

class MemfdBytes : public PinnedBytes {
 public:
  explicit MemfdBytes(const std::string& bytes) : fd_(memfd_create("pinned", MFD_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(pwrite(fd_, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
  ~MemfdBytes() override { close(fd_); }
  int fd() const override { return fd_; }

 private:
  int fd_;
};

// A block cache in memory: one object per key, byte by byte, with claims the test can make
// "another process's" (OthersClaim) and take away again. Thread-safe (one mutex).
class MemoryCache : public BlockCache {
 public:
  std::optional<std::string> Read(std::string_view key, ByteRange range) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    Object& o = objects_[std::string(key)];
    for (uint64_t i = range.offset; i < range.end(); ++i) {
      if (i >= o.have.size() || !o.have[i]) return std::nullopt;
    }
    return o.bytes.substr(range.offset, range.length);
  }
  // A memfd with a copy of the object, when all of `range` is there.
  std::unique_ptr<PinnedBytes> Pin(std::string_view key, ByteRange range) override {
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = objects_[std::string(key)];
    for (uint64_t i = range.offset; i < range.end(); ++i) {
      if (i >= o.have.size() || !o.have[i]) return nullptr;
    }
    ++pins_;
    return std::make_unique<MemfdBytes>(o.bytes);
  }
  std::vector<ByteRange> Missing(std::string_view key, ByteRange range) override {
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = objects_[std::string(key)];
    std::vector<ByteRange> out;
    for (uint64_t i = range.offset; i < range.end(); ++i) {
      if (i < o.have.size() && o.have[i]) continue;
      if (!out.empty() && out.back().end() == i) {
        ++out.back().length;
      } else {
        out.push_back(ByteRange{i, 1});
      }
    }
    return out;
  }
  void Insert(std::string_view key, uint64_t offset, std::string_view bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = objects_[std::string(key)];
    if (o.bytes.size() < offset + bytes.size()) {
      o.bytes.resize(offset + bytes.size());
      o.have.resize(offset + bytes.size());
    }
    o.bytes.replace(offset, bytes.size(), bytes);
    for (uint64_t i = offset; i < offset + bytes.size(); ++i) o.have[i] = true;
  }
  void InsertAndRelease(std::string_view key, uint64_t offset, std::string_view bytes,
                        const std::vector<ByteRange>& release) override {
    Insert(key, offset, bytes);
    Release(key, release);
  }
  void DropObject(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(std::string(key));
  }
  bool Claim(std::string_view key, const std::vector<ByteRange>& ranges, uint64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++claims_;
    Object& o = objects_[std::string(key)];
    if (o.others_claim) return false;
    for (const ByteRange& r : ranges) o.claims.push_back(r);
    return true;
  }
  void Release(std::string_view key, const std::vector<ByteRange>& ranges) override {
    std::lock_guard<std::mutex> lock(mu_);
    Object& o = objects_[std::string(key)];
    for (const ByteRange& r : ranges) {
      auto it = std::find(o.claims.begin(), o.claims.end(), r);
      if (it != o.claims.end()) o.claims.erase(it);
    }
  }
  Status Evict(bool) override { return Status(); }
  uint64_t TotalBytes() override { return 0; }
  Result<std::vector<ObjectSummary>> List() override { return std::vector<ObjectSummary>{}; }
  Result<VerifyReport> Verify() override { return VerifyReport{}; }
  CacheCounters counters() const override { return {}; }

  // Another process holds (true) or has given up (false) claims on all of `key`.
  void OthersClaim(const std::string& key, bool held) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[key].others_claim = held;
  }
  // This process's claims on `key` not yet released.
  std::vector<ByteRange> Claims(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_[key].claims;
  }
  int reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  int pins() {
    std::lock_guard<std::mutex> lock(mu_);
    return pins_;
  }

 private:
  struct Object {
    std::string bytes;
    std::vector<bool> have;
    std::vector<ByteRange> claims;
    bool others_claim = false;
  };
  std::mutex mu_;
  std::map<std::string, Object> objects_;
  int reads_ = 0, claims_ = 0, pins_ = 0;
};

// `size` bytes that differ from offset to offset (a wrong offset shows), different per `seed`.
inline std::string PatternBytes(uint64_t size, uint64_t seed = 1) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * (2 * seed + 11) + i / 4093);
  return s;
}

// Polls `done` for up to 5 s.
inline bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace datumfs

#endif  // DATUMFS_TEST_UNIT_READER_FIXTURES_H_
