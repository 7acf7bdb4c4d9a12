// BlockCache over LmdbIndex and DataFile. See datumfs/cache.h for the contract.
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <map>
#include <thread>

#include "base/buffer.h"
#include "base/mutex.h"
#include "cache/data_file.h"
#include "cache/extents.h"
#include "cache/index_check.h"
#include "cache/lmdb_index.h"
#include "cache/verified_set.h"
#include "datumfs/cache.h"
#include "datumfs/crc32c.h"
#include "datumfs/hex.h"
#include "datumfs/redact.h"

namespace datumfs {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

uint64_t Now() { return static_cast<uint64_t>(std::time(nullptr)); }

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), length));
}

bool SafeFileName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// A data file held open with its shared lock: eviction skips it until this is destroyed.
class PinnedFile final : public PinnedBytes {
 public:
  explicit PinnedFile(DataFile file) : file_(std::move(file)) {}
  int fd() const override { return file_.fd(); }

 private:
  DataFile file_;
};

class DiskCache final : public BlockCache {
 public:
  DiskCache(const CacheOptions& options, std::unique_ptr<LmdbIndex> index)
      : options_(options), index_(std::move(index)) {
    flusher_ = std::thread([this] { FlushLoop(); });
  }
  ~DiskCache() override;

  std::optional<std::string> Read(std::string_view key, ByteRange range) override;
  std::unique_ptr<PinnedBytes> Pin(std::string_view key, ByteRange range) override;
  std::vector<ByteRange> Missing(std::string_view key, ByteRange range) override;
  void Insert(std::string_view key, uint64_t offset, std::string_view bytes) override {
    InsertAndRelease(key, offset, bytes, {});
  }
  void InsertAndRelease(std::string_view key, uint64_t offset, std::string_view bytes,
                        const std::vector<ByteRange>& release) override;
  Status Evict(bool all) override;
  uint64_t TotalBytes() override;
  CacheCounters counters() const override;
  Result<std::vector<ObjectSummary>> List() override;
  bool Claim(std::string_view key, const std::vector<ByteRange>& ranges,
             uint64_t ttl_seconds) override;
  void Release(std::string_view key, const std::vector<ByteRange>& ranges) override;
  void DropObject(std::string_view key) override;
  Result<VerifyReport> Verify() override;

 private:
  // The data file of a key, locked shared, and the extents that hold all of a range.
  struct Covered {
    DataFile file;
    std::vector<Extent> extents;
  };
  // Nullopt unless every byte of `range` is indexed.
  std::optional<Covered> OpenCovering(std::string_view key, ByteRange range);
  // Counts, logs and drops extent `e` of `covered`, which failed its CRC check (closing it).
  void DropCorrupt(Covered& covered, std::string_view key, const Extent& e);
  // Records the extents' use, for eviction (written to the index by the flusher).
  void Touch(std::string_view key, const std::vector<Extent>& extents) EXCLUDES(touch_mu_);
  // Whether extent `e` has passed its CRC check in this process; recording that it has.
  bool Verified(std::string_view key, const Extent& e) EXCLUDES(verified_mu_);
  void MarkVerified(std::string_view key, const Extent& e) EXCLUDES(verified_mu_);
  // True if extent `e` has passed its CRC check, now or earlier in this process.
  bool CheckExtent(const DataFile& file, std::string_view key, const Extent& e)
      EXCLUDES(verified_mu_);
  // Copies the part of extent `e` inside `range` into `out` (which holds `range`). Checks the
  // CRC the first time. Returns false if the extent is bad (the caller drops it).
  bool CopyExtent(const DataFile& file, std::string_view key, const Extent& e, ByteRange range,
                  std::string* out);
  // Writes the parts of the bytes that are not cached yet to the data file (evicting first
  // when over the limits); the extents written, to be indexed.
  std::vector<Extent> WriteExtents(std::string_view key, uint64_t offset, std::string_view bytes);
  void Drop(std::string_view key, const Extent& e);
  // Evicts least recently used extents not in use until `need` bytes are freed (or none left).
  Status EvictBytes(uint64_t need) EXCLUDES(evict_mu_);
  // Bytes to free now to get back under the limits (0 if under them); `all` for gc --all.
  uint64_t BytesOverLimits(uint64_t incoming);
  uint64_t MinFree(const struct statvfs& fs) const;
  void FlushTouches() EXCLUDES(touch_mu_);
  void FlushLoop() EXCLUDES(stop_mu_);
  // True once the cache directory was deleted or replaced under us (checked every second):
  // from then on this cache is a miss for everything and writes nothing, rather than go on
  // writing into deleted files.
  bool Gone() const { return gone_.load(std::memory_order_relaxed); }
  void CheckStillThere();

  const CacheOptions options_;
  std::unique_ptr<LmdbIndex> index_;

  // Lock order: evict_mu_ before touch_mu_. verified_mu_, touch_mu_ and stop_mu_ are leaves,
  // held for no I/O and no index transaction.
  Mutex verified_mu_;
  VerifiedSet verified_ GUARDED_BY(verified_mu_);

  Mutex touch_mu_;
  std::map<std::pair<std::string, uint64_t>, uint64_t> touches_ GUARDED_BY(touch_mu_);

  // One eviction at a time in this process. It guards no data and is held across the
  // eviction's reads, deletes and index transactions on purpose: a second eviction would only
  // pick the same extents.
  Mutex evict_mu_ ACQUIRED_BEFORE(touch_mu_);

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ GUARDED_BY(stop_mu_) = false;
  std::thread flusher_;

  std::atomic<uint64_t> hits_{0}, misses_{0}, bytes_written_{0}, evictions_{0},
      evicted_bytes_{0}, corrupt_{0}, write_failures_{0};
  std::atomic<bool> gone_{false};
};

DiskCache::~DiskCache() {
  {
    MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  stop_cv_.SignalAll();
  flusher_.join();
  if (!Gone()) FlushTouches();
}

std::vector<ByteRange> DiskCache::Missing(std::string_view key, ByteRange range) {
  if (Gone()) return {range};
  Result<std::vector<Extent>> extents = index_->Overlapping(key, range);
  if (!extents) return {range};
  std::vector<ByteRange> have;
  for (const Extent& e : extents.value()) have.push_back(e.range());
  return MissingRanges(have, range);
}

bool DiskCache::Verified(std::string_view key, const Extent& e) {
  MutexLock lock(&verified_mu_);
  return verified_.Contains(key, e);
}

void DiskCache::MarkVerified(std::string_view key, const Extent& e) {
  MutexLock lock(&verified_mu_);
  verified_.Insert(key, e);
}

bool DiskCache::CopyExtent(const DataFile& file, std::string_view key, const Extent& e,
                           ByteRange range, std::string* out) {
  const uint64_t from = std::max(e.offset, range.offset);
  const uint64_t to = std::min(e.offset + e.length, range.end());
  char* dest = out->data() + (from - range.offset);
  const bool inside = from == e.offset && to == e.offset + e.length;
  if (inside && !Verified(key, e)) {
    // The whole extent, not checked yet (read-ahead parts and extents line up): read once,
    // straight into `out`, and checked there.
    if (!file.ReadAt(e.offset, e.length, dest).ok() ||
        crc32c::Value(std::string_view(dest, e.length)) != e.crc) {
      return false;
    }
    MarkVerified(key, e);
    return true;
  }
  // Checked already, or a part of it: checked first (through CheckExtent's small buffer, which
  // leaves the pages in the page cache for this read).
  return CheckExtent(file, key, e) && file.ReadAt(from, to - from, dest).ok();
}

std::optional<DiskCache::Covered> DiskCache::OpenCovering(std::string_view key, ByteRange range) {
  if (Gone()) return std::nullopt;
  // The index first: a miss (every cold read) opens no file.
  if (!Missing(key, range).empty()) return std::nullopt;
  Result<DataFile> file = DataFile::Open(DataFilePath(options_.dir, key), DataFile::Mode::kRead,
                                         DataFile::Lock::kShared);
  if (!file) return std::nullopt;
  // Under the shared lock the indexed extents cannot be evicted: look again.
  Result<std::vector<Extent>> extents = index_->Overlapping(key, range);
  if (!extents) return std::nullopt;
  std::vector<ByteRange> have;
  for (const Extent& e : extents.value()) have.push_back(e.range());
  if (!MissingRanges(have, range).empty()) return std::nullopt;
  return Covered{std::move(file.value()), std::move(extents.value())};
}

void DiskCache::DropCorrupt(Covered& covered, std::string_view key, const Extent& e) {
  ++corrupt_;
  spdlog::warn("cache: {} bytes {}-{} failed their CRC check; dropped, fetching again", key,
               e.offset, e.offset + e.length - 1);
  covered.file.Close();  // release the shared lock before taking the exclusive one
  Drop(key, e);
}

void DiskCache::Touch(std::string_view key, const std::vector<Extent>& extents) {
  uint64_t now = Now();
  MutexLock lock(&touch_mu_);
  for (const Extent& e : extents) {
    if (e.atime < now) touches_[{std::string(key), e.offset}] = now;
  }
}

std::optional<std::string> DiskCache::Read(std::string_view key, ByteRange range) {
  std::optional<Covered> covered = OpenCovering(key, range);
  if (!covered) {
    ++misses_;
    return std::nullopt;
  }
  std::string out = ZeroedBuffer(range.length);
  for (const Extent& e : covered->extents) {
    if (!CopyExtent(covered->file, key, e, range, &out)) {
      DropCorrupt(*covered, key, e);
      ++misses_;
      return std::nullopt;
    }
  }
  ++hits_;
  Touch(key, covered->extents);
  return out;
}

bool DiskCache::CheckExtent(const DataFile& file, std::string_view key, const Extent& e) {
  if (Verified(key, e)) return true;
  // Through a small buffer per thread: the extent's pages stay in the kernel's page cache,
  // from where the caller's reply takes them.
  constexpr uint64_t kChunk = 256 << 10;
  thread_local std::string chunk;
  if (chunk.size() < kChunk) chunk = ZeroedBuffer(kChunk);
  uint32_t crc = crc32c::Value({});
  for (uint64_t done = 0; done < e.length;) {
    const uint64_t n = std::min(kChunk, e.length - done);
    if (!file.ReadAt(e.offset + done, n, chunk.data()).ok()) return false;
    crc = crc32c::Extend(crc, std::string_view(chunk.data(), n));
    done += n;
  }
  if (crc != e.crc) return false;
  MarkVerified(key, e);
  return true;
}

std::unique_ptr<PinnedBytes> DiskCache::Pin(std::string_view key, ByteRange range) {
  std::optional<Covered> covered = OpenCovering(key, range);
  if (!covered) return nullptr;  // the read goes the usual way, which counts the miss
  for (const Extent& e : covered->extents) {
    if (!CheckExtent(covered->file, key, e)) {
      DropCorrupt(*covered, key, e);
      return nullptr;
    }
  }
  ++hits_;
  Touch(key, covered->extents);
  return std::make_unique<PinnedFile>(std::move(covered->file));
}

void DiskCache::Drop(std::string_view key, const Extent& e) {
  Result<DataFile> file = DataFile::Open(DataFilePath(options_.dir, key), DataFile::Mode::kWrite,
                                         DataFile::Lock::kExclusiveOrSkip);
  if (!file) return;  // in use: a later read finds it bad again
  if (index_->Delete(key, e.offset).has_value()) {
    (void)file.value().PunchHole(e.offset, e.length);
  }
}

uint64_t DiskCache::MinFree(const struct statvfs& fs) const {
  uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  if (options_.min_free) return options_.min_free->Of(total);
  uint64_t ten_percent = total / 10;
  return total >= 10 * kGiB ? std::max(ten_percent, kGiB) : ten_percent;
}

uint64_t DiskCache::BytesOverLimits(uint64_t incoming) {
  uint64_t need = 0;
  if (options_.max_bytes > 0) {
    uint64_t total = TotalBytes() + incoming;
    if (total > options_.max_bytes) need = total - options_.max_bytes * 9 / 10;  // low watermark
  }
  struct statvfs fs;
  if (statvfs(options_.dir.c_str(), &fs) == 0) {
    uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    uint64_t min_free = MinFree(fs);
    if (free_bytes < min_free + incoming) {
      need = std::max(need, min_free + min_free / 10 + incoming - free_bytes);
    }
  }
  return need;
}

Status DiskCache::Evict(bool all) {
  if (Gone()) return Status();
  return EvictBytes(all ? UINT64_MAX : BytesOverLimits(0));
}

Status DiskCache::EvictBytes(uint64_t need) {
  if (need == 0) return Status();
  MutexLock lock(&evict_mu_);
  FlushTouches();  // order by the latest accesses
  std::vector<EvictionCandidate> candidates;
  Status s = index_->ForEach([&](std::string_view key, const Extent& e) {
    candidates.push_back(EvictionCandidate{std::string(key), e.offset, e.length, e.atime});
  });
  if (!s.ok()) return s;
  for (size_t i : PlanEviction(candidates, need)) {
    const EvictionCandidate& c = candidates[i];
    Result<DataFile> file = DataFile::Open(DataFilePath(options_.dir, c.key),
                                           DataFile::Mode::kWrite,
                                           DataFile::Lock::kExclusiveOrSkip);
    if (!file) continue;  // being read (pinned), here or in another process
    Result<uint64_t> removed = index_->Delete(c.key, c.offset);
    if (!removed || removed.value() == 0) continue;
    (void)file.value().PunchHole(c.offset, c.length);
    ++evictions_;
    evicted_bytes_ += c.length;
  }
  return Status();
}

std::vector<Extent> DiskCache::WriteExtents(std::string_view key, uint64_t offset,
                                            std::string_view bytes) {
  if (bytes.empty() || Gone()) return {};
  std::vector<ByteRange> gaps = Missing(key, ByteRange{offset, bytes.size()});
  if (gaps.empty()) return {};
  uint64_t incoming = 0;
  for (const ByteRange& g : gaps) incoming += g.length;
  (void)EvictBytes(BytesOverLimits(incoming));
  Result<DataFile> file = DataFile::Open(DataFilePath(options_.dir, key),
                                         DataFile::Mode::kCreate, DataFile::Lock::kNone);
  if (!file) {
    ++write_failures_;
    return {};
  }
  std::vector<Extent> extents;
  uint64_t now = Now();
  for (const ByteRange& gap : gaps) {
    for (const ByteRange& piece : SplitRange(gap, options_.max_extent)) {
      std::string_view data = bytes.substr(piece.offset - offset, piece.length);
      Status w = file.value().WriteAt(piece.offset, data);
      if (!w.ok() && w.errno_value() == ENOSPC) {  // make room once, then give up
        (void)EvictBytes(std::max(BytesOverLimits(piece.length), piece.length));
        w = file.value().WriteAt(piece.offset, data);
      }
      if (!w.ok()) {
        ++write_failures_;
        (void)file.value().PunchHole(piece.offset, piece.length);  // give back what was written
        continue;
      }
      extents.push_back(Extent{piece.offset, piece.length, crc32c::Value(data), now});
    }
  }
  return extents;
}

uint64_t DiskCache::TotalBytes() {
  Result<uint64_t> total = index_->TotalBytes();
  return total ? total.value() : 0;
}

CacheCounters DiskCache::counters() const {
  return CacheCounters{hits_.load(),          misses_.load(),  bytes_written_.load(),
                       evictions_.load(),     evicted_bytes_.load(), corrupt_.load(),
                       write_failures_.load()};
}

// Who this process is, for claims. Pids mean something only within one pid namespace (a
// container has its own), so claims from other namespaces are trusted until they expire.
LmdbIndex::Claim Me() {
  LmdbIndex::Claim me;
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) == 0) me.pid_namespace = st.st_ino;
  me.pid = static_cast<uint32_t>(getpid());
  return me;
}

bool ClaimIsLive(const LmdbIndex::Claim& c, const LmdbIndex::Claim& me, uint64_t now) {
  if (c.expires <= now) return false;
  if (c.pid_namespace != me.pid_namespace) return true;
  return kill(static_cast<pid_t>(c.pid), 0) == 0 || errno == EPERM;
}

bool DiskCache::Claim(std::string_view key, const std::vector<ByteRange>& ranges,
                      uint64_t ttl_seconds) {
  if (Gone()) return true;  // nobody else can be filling this cache for us
  LmdbIndex::Claim me = Me();
  uint64_t now = Now();
  me.expires = now + ttl_seconds;
  Result<bool> claimed = index_->ClaimAll(
      key, ranges, me, [&](const LmdbIndex::Claim& c) { return ClaimIsLive(c, me, now); });
  return !claimed || claimed.value();  // an index that fails: fetch rather than wait
}

void DiskCache::DropObject(std::string_view key) {
  if (Gone()) return;
  Result<std::vector<Extent>> extents = index_->Overlapping(key, ByteRange{0, UINT64_MAX / 2});
  if (!extents) return;
  for (const Extent& e : extents.value()) Drop(key, e);
}

void DiskCache::InsertAndRelease(std::string_view key, uint64_t offset, std::string_view bytes,
                                 const std::vector<ByteRange>& release) {
  std::vector<Extent> extents = WriteExtents(key, offset, bytes);
  if (extents.empty()) return Release(key, release);
  LmdbIndex::Claim me = Me();
  if (!index_->Put(key, extents, release, &me).ok()) {  // not indexed: the bytes do not count
    ++write_failures_;
    return Release(key, release);
  }
  for (const Extent& e : extents) bytes_written_ += e.length;
}

void DiskCache::Release(std::string_view key, const std::vector<ByteRange>& ranges) {
  if (Gone() || ranges.empty()) return;
  (void)index_->ReleaseAll(key, ranges, Me());
}

Result<std::vector<BlockCache::ObjectSummary>> DiskCache::List() {
  FlushTouches();
  std::vector<ObjectSummary> out;
  Status s = index_->ForEach([&](std::string_view key, const Extent& e) {
    if (out.empty() || out.back().key != key) out.push_back(ObjectSummary{std::string(key)});
    out.back().bytes += e.length;
    out.back().extents += 1;
    out.back().last_use = std::max(out.back().last_use, e.atime);
  });
  if (!s.ok()) return s;
  return out;
}

Result<BlockCache::VerifyReport> DiskCache::Verify() {
  std::vector<std::pair<std::string, Extent>> all;
  Status s = index_->ForEach([&](std::string_view key, const Extent& e) {
    all.emplace_back(std::string(key), e);
  });
  if (!s.ok()) return s;
  VerifyReport report;
  std::string buf;
  for (const auto& [key, e] : all) {
    ++report.extents;
    report.bytes += e.length;
    bool good = false;
    {
      Result<DataFile> file = DataFile::Open(DataFilePath(options_.dir, key),
                                             DataFile::Mode::kRead, DataFile::Lock::kShared);
      buf.resize(e.length);
      good = file && file.value().ReadAt(e.offset, e.length, buf.data()).ok() &&
             crc32c::Value(buf) == e.crc;
    }
    if (good) continue;
    report.bad.push_back(key + " bytes " + std::to_string(e.offset) + "-" +
                         std::to_string(e.offset + e.length - 1));
    ++corrupt_;
    Drop(key, e);
  }
  return report;
}

void DiskCache::FlushTouches() {
  std::vector<LmdbIndex::Touch> batch;
  {
    MutexLock lock(&touch_mu_);
    for (auto& [k, atime] : touches_) batch.push_back({k.first, k.second, atime});
    touches_.clear();
  }
  if (!batch.empty()) (void)index_->TouchAll(batch);
}

void DiskCache::CheckStillThere() {
  if (Gone() || index_->StillAt(options_.dir + "/index")) return;
  gone_ = true;
  spdlog::warn("cache {}: the directory was removed or replaced while mounted; caching stopped "
               "for this mount (reads go on from the store; mount again to cache again)",
               options_.dir);
}

// Access times are written once a second in one transaction, and limits checked as often.
void DiskCache::FlushLoop() {
  MutexLock lock(&stop_mu_);
  for (;;) {
    const auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!stopping_ && std::chrono::steady_clock::now() < next) {
      stop_cv_.WaitUntil(&stop_mu_, next);
    }
    if (stopping_) return;
    lock.Unlock();
    CheckStillThere();
    if (!Gone()) {
      FlushTouches();
      if (BytesOverLimits(0) > 0) {
        Status s = Evict(false);
        if (!s.ok()) spdlog::warn("cache eviction: {}", s.message());
      }
    }
    lock.Lock();
  }
}

// Moves a broken index aside and empties the data it described; the cache starts over.
Result<std::unique_ptr<LmdbIndex>> StartOver(const std::string& dir, const Status& why) {
  std::error_code ec;
  std::string aside;
  for (int n = 0; n < 100; ++n) {  // a name not taken yet (two in one second is possible)
    aside = "index.broken-";  // appended: GCC 12's -Wrestrict misfires on "..." + at -O3
    aside += std::to_string(Now());
    if (n) aside.append("-").append(std::to_string(n));
    if (!std::filesystem::exists(dir + "/" + aside, ec)) break;
  }
  std::filesystem::rename(dir + "/index", dir + "/" + aside, ec);
  if (ec) {  // it must not be opened again: without it the cache just starts empty
    spdlog::warn("cache {}: {}; cannot move the index aside ({}), removed it, starting empty", dir,
                 why.message(), ec.message());
    std::filesystem::remove_all(dir + "/index", ec);
    aside.clear();
  }
  std::filesystem::remove_all(dir + "/data", ec);
  if (!aside.empty()) {
    spdlog::warn("cache {}: {}; index moved to {}, starting empty", dir, why.message(), aside);
  }
  return LmdbIndex::Open(dir + "/index");
}

}  // namespace

std::string BlockCache::KeyFor(std::string_view datum_id, std::string_view url, uint64_t size) {
  if (!datum_id.empty()) {
    return "d-" + (SafeFileName(datum_id) ? std::string(datum_id) : Sha256Hex(datum_id));
  }
  return "u-" + Sha256Hex(ObjectIdentity(url) + "\n" + std::to_string(size));
}

Status BlockCache::Prepare(const CacheOptions& options) {
  const std::string& dir = options.dir;
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 && errno == ENOENT) {  // a new cache: only we may read it
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(dir, errno);
  }
  // An existing directory keeps its mode: --cache-dir /tmp must not lock everyone out of it.
  if (stat(dir.c_str(), &st) != 0) return ErrnoStatus(dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::Errno(ENOTDIR, dir, "not a directory");
  const bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  const bool sticky_and_ours = (st.st_mode & S_ISVTX) && st.st_uid == geteuid();
  if (others_write && !sticky_and_ours) {
    return Status::Errno(EPERM, dir,
                         "other users can write into it, so they could plant cached bytes; "
                         "use a directory of its own (datumfs creates a new one 0700)");
  }
  if (access(dir.c_str(), W_OK) != 0) return ErrnoStatus(dir, errno);
  // access() says yes to root on a read-only mount: try for real.
  std::string probe = dir + "/.probe";
  int fd = open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(dir, errno);
  close(fd);
  unlink(probe.c_str());
  return Status();
}

Result<std::unique_ptr<BlockCache>> BlockCache::Open(const CacheOptions& options) {
  const std::string& dir = options.dir;
  if (Status s = Prepare(options); !s.ok()) return s;
  Result<std::unique_ptr<LmdbIndex>> index = Status::Errno(EIO, "not opened");
  // A damaged index would crash LMDB here or later: it is checked in a child process first.
  if (Status check = CheckIndex(dir + "/index"); !check.ok()) {
    index = StartOver(dir, check);
  } else {
    index = LmdbIndex::Open(dir + "/index");
  }
  if (!index && index.error().errno_value() != EACCES && index.error().errno_value() != EROFS) {
    index = StartOver(dir, index.error());
  }
  if (!index) return index.error();
  if (mkdir((dir + "/data").c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(dir + "/data", errno);
  }
  return std::unique_ptr<BlockCache>(
      std::make_unique<DiskCache>(options, std::move(index).value()));
}

}  // namespace datumfs
