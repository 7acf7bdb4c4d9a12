#include "reader/cache_writer.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "datumfs/hex.h"
#include "reader/open_file.h"

namespace datumfs {
namespace {

const EVP_MD* Digest(ChecksumType type) {
  switch (type) {
    case ChecksumType::kSha256: return EVP_sha256();
    case ChecksumType::kSha1: return EVP_sha1();
    case ChecksumType::kMd5: return EVP_md5();
    default: return nullptr;
  }
}

const char* Name(ChecksumType type) {
  switch (type) {
    case ChecksumType::kSha256: return "sha256";
    case ChecksumType::kSha1: return "sha1";
    default: return "md5";
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The digest of the cached bytes of a file of `size` bytes, or nothing if some are missing or
// `stop` became true.
std::optional<std::string> HashCached(BlockCache& cache, const std::string& key, uint64_t size,
                                      ChecksumType type, const std::atomic<bool>& stop) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), Digest(type), nullptr);
  const uint64_t chunk = 8 << 20;
  for (uint64_t off = 0; off < size; off += chunk) {
    if (stop) return std::nullopt;
    std::optional<std::string> bytes = cache.Read(key, ByteRange{off, std::min(chunk, size - off)});
    if (!bytes) return std::nullopt;
    EVP_DigestUpdate(ctx.get(), bytes->data(), bytes->size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), n));
}

}  // namespace

CacheWriter::CacheWriter(const Tree& tree, BlockCache& cache, std::string mountpoint)
    : tree_(tree), cache_(cache), mountpoint_(std::move(mountpoint)) {}

CacheWriter::~CacheWriter() { Stop(); }

void CacheWriter::Stop() {
  stopping_ = true;
  writes_.Stop();  // what was fetched goes into the cache before it closes
  checks_.Stop();  // after the writes, which queue checks
}

void CacheWriter::AfterWrites(std::function<void()> task) { writes_.Post(std::move(task)); }

void CacheWriter::Write(NodeId node, const std::string& key, std::shared_ptr<const Range> range,
                        std::vector<ByteRange> parts, bool release_claims) {
  writes_.Post([this, node, key, range, parts, release_claims] {
    const std::string_view bytes(range->data);
    for (size_t i = 0; i < parts.size(); ++i) {
      const ByteRange& part = parts[i];
      std::string_view part_bytes = bytes.substr(part.offset - range->range.offset, part.length);
      const bool last = i + 1 == parts.size();
      cache_.InsertAndRelease(key, part.offset, part_bytes,
                              last && release_claims ? parts : std::vector<ByteRange>{});
    }
    MaybeQueueCheck(node, key);
  });
}

void CacheWriter::MaybeQueueCheck(NodeId node, const std::string& key) {
  if (tree_.remote(node).checksum_type == ChecksumType::kNone || stopping_) return;
  uint64_t from = 0;
  {
    MutexLock lock(&mu_);
    if (check_started_.count(node)) return;
    from = cached_prefix_[node];
  }
  // Only from the first gap seen before: after every insert of a big file, not all of it again.
  const uint64_t size = tree_.size(node);
  const std::vector<ByteRange> missing = cache_.Missing(key, ByteRange{from, size - from});
  {
    MutexLock lock(&mu_);
    if (!missing.empty()) {
      uint64_t& prefix = cached_prefix_[node];
      prefix = std::max(prefix, missing.front().offset);
      return;
    }
    cached_prefix_.erase(node);
    if (!check_started_.insert(node).second) return;
  }
  checks_.Post([this, node, key] {
    if (!stopping_) Check(node, key);
  });
}

void CacheWriter::Check(NodeId node, const std::string& key) {
  const RemoteFileInfo info = tree_.remote(node);
  std::optional<std::string> got =
      HashCached(cache_, key, tree_.size(node), info.checksum_type, stopping_);
  if (!got) {  // evicted meanwhile: check again when it is whole again (or unmounting)
    MutexLock lock(&mu_);
    check_started_.erase(node);
    return;
  }
  const std::string want = Lower(info.checksum);
  const std::string name = mountpoint_ + "/" + tree_.Path(node);
  if (*got == want) {
    spdlog::debug("{}: {} sum: {} (checked)", name, Name(info.checksum_type), *got);
    return;
  }
  spdlog::error("{}: {} MISMATCH: inputs.json says {}, the bytes read hash to {}; its cached "
                "bytes are dropped", name, Name(info.checksum_type), want, *got);
  cache_.DropObject(key);
  // Read again, the same bytes are cached again: they must be checked (and dropped) again.
  MutexLock lock(&mu_);
  check_started_.erase(node);
}

}  // namespace datumfs
