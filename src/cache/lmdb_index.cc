#include "cache/lmdb_index.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace datumfs {
namespace {

constexpr std::string_view kTotalBytes = "total_bytes";

void PutBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetBigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

template <class T>
void PutFixed(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
T GetFixed(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

Status LmdbStatus(std::string_view what, int rc) {
  return Status::Errno(rc > 0 && rc < 200 ? rc : EIO, "cache index: " + std::string(what),
                       mdb_strerror(rc));
}

// Adds `delta` (may wrap: two's complement subtracts) to the total.
int AddToTotal(MDB_txn* txn, MDB_dbi meta, uint64_t delta) {
  MDB_val k = Val(kTotalBytes), v;
  uint64_t total = 0;
  int rc = mdb_get(txn, meta, &k, &v);
  if (rc == 0 && v.mv_size == 8) total = GetFixed<uint64_t>(static_cast<char*>(v.mv_data));
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  total += delta;
  std::string encoded;
  PutFixed(&encoded, total);
  MDB_val nv = Val(encoded);
  return mdb_put(txn, meta, &k, &nv, 0);
}

}  // namespace

std::string EncodeExtentKey(std::string_view key, uint64_t offset) {
  std::string out(key);
  out.push_back('\0');
  PutBigEndian(&out, offset);
  return out;
}

bool DecodeExtentKey(std::string_view encoded, std::string* key, uint64_t* offset) {
  if (encoded.size() < 9 || encoded[encoded.size() - 9] != '\0') return false;
  *key = std::string(encoded.substr(0, encoded.size() - 9));
  *offset = GetBigEndian(encoded.data() + encoded.size() - 8);
  return true;
}

std::string EncodeExtentValue(const Extent& e) {
  std::string out;
  PutFixed<uint64_t>(&out, e.length);
  PutFixed<uint32_t>(&out, e.crc);
  PutFixed<uint64_t>(&out, e.atime);
  return out;
}

bool DecodeExtentValue(std::string_view encoded, uint64_t offset, Extent* e) {
  if (encoded.size() != 20) return false;
  e->offset = offset;
  e->length = GetFixed<uint64_t>(encoded.data());
  // Extents are at most CacheOptions::max_extent (8 MiB); a length past this is damage.
  if (e->length == 0 || e->length > kMaxExtentLength || offset + e->length < offset) return false;
  e->crc = GetFixed<uint32_t>(encoded.data() + 8);
  e->atime = GetFixed<uint64_t>(encoded.data() + 12);
  return true;
}

Result<std::unique_ptr<LmdbIndex>> LmdbIndex::Open(const std::string& dir, size_t map_size) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(dir, errno);
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbStatus("create", rc);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_maxreaders(env, 1024);
  // Address space only: the file grows with the pages used. A larger map another process set
  // is adopted.
  mdb_env_set_mapsize(env, map_size);
  // NOSYNC: a lost index entry only costs a refetch, and bytes are CRC-checked before use.
  // NOTLS: read transactions are not tied to threads.
  rc = mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0600);
  if (rc != 0) {
    mdb_env_close(env);
    return LmdbStatus("open " + dir, rc);
  }
  int dead = 0;
  mdb_reader_check(env, &dead);  // slots of processes that died holding a read transaction
  std::unique_ptr<LmdbIndex> index(new LmdbIndex(env));
  LmdbIndex& i = *index;
  rc = index->Run(0, [&i](MDB_txn* txn) {
    int rc = mdb_dbi_open(txn, "extents", MDB_CREATE, &i.extents_);
    if (rc == 0) rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &i.meta_);
    if (rc == 0) rc = mdb_dbi_open(txn, "claims", MDB_CREATE, &i.claims_);
    return rc;
  });
  if (rc != 0) return LmdbStatus("open databases in " + dir, rc);
  return index;
}

LmdbIndex::~LmdbIndex() { mdb_env_close(env_); }

bool LmdbIndex::StillAt(const std::string& dir) {
  mdb_filehandle_t fd = -1;
  struct stat open_file, on_disk;
  if (mdb_env_get_fd(env_, &fd) != 0 || fstat(fd, &open_file) != 0) return false;
  if (stat((dir + "/data.mdb").c_str(), &on_disk) != 0) return false;
  return open_file.st_dev == on_disk.st_dev && open_file.st_ino == on_disk.st_ino;
}

void LmdbIndex::Resize(size_t size) {
  std::lock_guard<std::mutex> resize(resize_mu_);
  resizing_ = true;
  {
    std::unique_lock<std::shared_mutex> lock(txn_mu_);
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    if (size == 0 || info.me_mapsize < size) mdb_env_set_mapsize(env_, size);
  }
  resizing_ = false;
}

namespace {

// LMDB's ways of saying that its pages are not what it wrote.
bool SaysDamaged(int rc) {
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
         rc == MDB_BAD_TXN || rc == MDB_BAD_VALSIZE || rc == MDB_BAD_DBI;
}

}  // namespace

int LmdbIndex::Run(unsigned flags, const std::function<int(MDB_txn*)>& fn) {
  if (damaged_.load(std::memory_order_relaxed)) return MDB_CORRUPTED;
  int rc = RunOnce(flags, fn);
  if (SaysDamaged(rc) && !damaged_.exchange(true)) {
    spdlog::error("cache index: {}; caching is off until the next mount, which moves the index "
                  "aside", mdb_strerror(rc));
  }
  return rc;
}

int LmdbIndex::RunOnce(unsigned flags, const std::function<int(MDB_txn*)>& fn) {
  for (int attempt = 0;; ++attempt) {
    if (resizing_) std::lock_guard<std::mutex> wait(resize_mu_);  // until the resize is done
    std::shared_lock<std::shared_mutex> lock(txn_mu_);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, flags, &txn);
    if (rc == MDB_MAP_RESIZED && attempt < 3) {  // another process grew the map: adopt it
      lock.unlock();
      Resize(0);
      continue;
    }
    if (rc != 0) return rc;
    rc = fn(txn);
    if (rc == 0 && !(flags & MDB_RDONLY)) return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return rc;
  }
}

Status LmdbIndex::Write(const std::function<int(MDB_txn*)>& fn) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    int rc = Run(0, fn);
    if (rc != MDB_MAP_FULL) return rc == 0 ? Status() : LmdbStatus("write", rc);
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    Resize(info.me_mapsize * 2);
  }
  return LmdbStatus("write", MDB_MAP_FULL);
}

Status LmdbIndex::Read(const std::function<int(MDB_txn*)>& fn) {
  int rc = Run(MDB_RDONLY, fn);
  return rc == 0 ? Status() : LmdbStatus("read", rc);
}

Result<std::vector<Extent>> LmdbIndex::Overlapping(std::string_view key, ByteRange range) {
  std::vector<Extent> out;
  std::string prefix = EncodeExtentKey(key, 0);
  prefix.resize(prefix.size() - 8);
  Status s = Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, extents_, &cur);
    if (rc != 0) return rc;
    std::string start = EncodeExtentKey(key, range.offset);
    MDB_val k = Val(start), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc != 0 || MdbView(k) != start) {
      // The extent just before the range's start may reach into it: begin there if it is
      // this object's, else where the seek landed.
      MDB_val pk, pv;
      int prev = mdb_cursor_get(cur, &pk, &pv, rc == 0 ? MDB_PREV : MDB_LAST);
      if (prev == 0 && MdbView(pk).substr(0, prefix.size()) == prefix) {
        k = pk;
        v = pv;
        rc = 0;
      } else {
        k = Val(start);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
      }
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string_view kv = MdbView(k);
      if (kv.size() != prefix.size() + 8 || kv.substr(0, prefix.size()) != prefix) break;
      Extent e;
      if (!DecodeExtentValue(MdbView(v), GetBigEndian(kv.data() + prefix.size()), &e)) continue;
      if (e.offset >= range.end()) break;
      if (e.offset + e.length > range.offset) out.push_back(e);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
  if (!s.ok()) return s;
  return out;
}

Status LmdbIndex::Put(std::string_view key, const std::vector<Extent>& extents,
                      const std::vector<ByteRange>& release, const Claim* me) {
  return Write([&](MDB_txn* txn) {
    uint64_t added = 0;
    for (const Extent& e : extents) {
      std::string k = EncodeExtentKey(key, e.offset), v = EncodeExtentValue(e);
      MDB_val mk = Val(k), mv = Val(v);
      int rc = mdb_put(txn, extents_, &mk, &mv, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) continue;  // another process indexed it first
      if (rc != 0) return rc;
      added += e.length;
    }
    int rc = AddToTotal(txn, meta_, added);
    if (rc != 0 || !me) return rc;
    return ReleaseIn(txn, key, release, *me);
  });
}

Result<uint64_t> LmdbIndex::Delete(std::string_view key, uint64_t offset) {
  uint64_t removed = 0;
  Status s = Write([&](MDB_txn* txn) {
    removed = 0;
    std::string k = EncodeExtentKey(key, offset);
    MDB_val mk = Val(k), mv;
    int rc = mdb_get(txn, extents_, &mk, &mv);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return rc;
    Extent e;
    if (DecodeExtentValue(MdbView(mv), offset, &e)) removed = e.length;
    rc = mdb_del(txn, extents_, &mk, nullptr);
    if (rc != 0) return rc;
    return AddToTotal(txn, meta_, 0 - removed);
  });
  if (!s.ok()) return s;
  return removed;
}

Status LmdbIndex::TouchAll(const std::vector<Touch>& touches) {
  return Write([&](MDB_txn* txn) {
    for (const Touch& t : touches) {
      std::string k = EncodeExtentKey(t.key, t.offset);
      MDB_val mk = Val(k), mv;
      if (mdb_get(txn, extents_, &mk, &mv) != 0) continue;  // evicted meanwhile
      Extent e;
      if (!DecodeExtentValue(MdbView(mv), t.offset, &e) || e.atime >= t.atime) continue;
      e.atime = t.atime;
      std::string v = EncodeExtentValue(e);
      MDB_val nv = Val(v);
      int rc = mdb_put(txn, extents_, &mk, &nv, 0);
      if (rc != 0) return rc;
    }
    return 0;
  });
}

Result<uint64_t> LmdbIndex::TotalBytes() {
  uint64_t total = 0;
  Status s = Read([&](MDB_txn* txn) {
    MDB_val k = Val(kTotalBytes), v;
    int rc = mdb_get(txn, meta_, &k, &v);
    if (rc == 0 && v.mv_size == 8) total = GetFixed<uint64_t>(static_cast<char*>(v.mv_data));
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
  if (!s.ok()) return s;
  return total;
}

std::string EncodeClaim(const LmdbIndex::Claim& c) {
  std::string out;
  PutFixed<uint64_t>(&out, c.length);
  PutFixed<uint64_t>(&out, c.pid_namespace);
  PutFixed<uint32_t>(&out, c.pid);
  PutFixed<uint64_t>(&out, c.expires);
  return out;
}

bool DecodeClaim(std::string_view v, uint64_t offset, LmdbIndex::Claim* c) {
  if (v.size() != 28) return false;
  c->offset = offset;
  c->length = GetFixed<uint64_t>(v.data());
  c->pid_namespace = GetFixed<uint64_t>(v.data() + 8);
  c->pid = GetFixed<uint32_t>(v.data() + 16);
  c->expires = GetFixed<uint64_t>(v.data() + 20);
  return true;
}

namespace {

bool Overlaps(const LmdbIndex::Claim& c, const std::vector<ByteRange>& ranges) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const ByteRange& r) {
    return c.offset < r.end() && r.offset < c.offset + c.length;
  });
}

}  // namespace

Result<bool> LmdbIndex::ClaimAll(std::string_view key, const std::vector<ByteRange>& ranges,
                                 const Claim& me, const std::function<bool(const Claim&)>& is_live) {
  bool claimed = false;
  Status s = Write([&](MDB_txn* txn) {
    claimed = false;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, claims_, &cur);
    if (rc != 0) return rc;
    std::string prefix = EncodeExtentKey(key, 0);
    MDB_val k = Val(prefix), v;
    prefix.resize(prefix.size() - 8);
    bool blocked = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      std::string_view kv = MdbView(k);
      if (kv.size() != prefix.size() + 8 || kv.substr(0, prefix.size()) != prefix) break;
      Claim c;
      if (!DecodeClaim(MdbView(v), GetBigEndian(kv.data() + prefix.size()), &c)) continue;
      if (!is_live(c)) {
        rc = mdb_cursor_del(cur, 0);  // stale: its owner died or gave up
        if (rc != 0) break;
        continue;
      }
      if (Overlaps(c, ranges)) blocked = true;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (blocked) return 0;
    for (const ByteRange& r : ranges) {
      Claim c = me;
      c.offset = r.offset;
      c.length = r.length;
      std::string ck = EncodeExtentKey(key, r.offset), cv = EncodeClaim(c);
      MDB_val mk = Val(ck), mv = Val(cv);
      if ((rc = mdb_put(txn, claims_, &mk, &mv, 0)) != 0) return rc;
    }
    claimed = true;
    return 0;
  });
  if (!s.ok()) return s;
  return claimed;
}

Status LmdbIndex::ReleaseAll(std::string_view key, const std::vector<ByteRange>& ranges,
                             const Claim& me) {
  return Write([&](MDB_txn* txn) { return ReleaseIn(txn, key, ranges, me); });
}

int LmdbIndex::ReleaseIn(MDB_txn* txn, std::string_view key,
                         const std::vector<ByteRange>& ranges, const Claim& me) {
  for (const ByteRange& r : ranges) {
    std::string ck = EncodeExtentKey(key, r.offset);
    MDB_val mk = Val(ck), mv;
    if (mdb_get(txn, claims_, &mk, &mv) != 0) continue;
    Claim c;
    if (!DecodeClaim(MdbView(mv), r.offset, &c) || c.pid != me.pid ||
        c.pid_namespace != me.pid_namespace) {
      continue;  // someone else's by now
    }
    int rc = mdb_del(txn, claims_, &mk, nullptr);
    if (rc != 0) return rc;
  }
  return 0;
}

Status LmdbIndex::ForEach(const std::function<void(std::string_view, const Extent&)>& fn) {
  return Read([&](MDB_txn* txn) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn, extents_, &cur);
    if (rc != 0) return rc;
    MDB_val k, v;
    std::string key;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      uint64_t offset = 0;
      Extent e;
      if (DecodeExtentKey(MdbView(k), &key, &offset) && DecodeExtentValue(MdbView(v), offset, &e)) {
        fn(key, e);
      }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
}

}  // namespace datumfs
