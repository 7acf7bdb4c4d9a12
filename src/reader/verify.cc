// Whole-file checks against the checksums of inputs.json (sha256, else sha1, else md5).
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "datumfs/hex.h"
#include "reader/internal.h"
#include "reader/serial_queue.h"

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

}  // namespace

void ReadPath::MaybeQueueVerify(NodeId node, const std::string& key) {
  if (tree_.remote(node).checksum_type == ChecksumType::kNone || Stopping()) return;
  uint64_t from = 0;
  {
    MutexLock lock(&verify_mu_);
    if (verify_started_.count(node)) return;
    from = cached_prefix_[node];
  }
  // Only from the first gap seen before: after every insert of a big file, not all of it again.
  const uint64_t size = tree_.size(node);
  const std::vector<ByteRange> missing = cache_->Missing(key, ByteRange{from, size - from});
  {
    MutexLock lock(&verify_mu_);
    if (!missing.empty()) {
      uint64_t& prefix = cached_prefix_[node];
      prefix = std::max(prefix, missing.front().offset);
      return;
    }
    cached_prefix_.erase(node);
    if (!verify_started_.insert(node).second) return;
  }
  verifier_->Post([this, node, key] {
    if (!Stopping()) Verify(node, key);  // not at unmount: it may read gigabytes
  });
}

bool ReadPath::Stopping() {
  MutexLock lock(&wait_mu_);
  return stopping_;
}

void ReadPath::Verify(NodeId node, const std::string& key) {
  RemoteFileInfo info = tree_.remote(node);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), Digest(info.checksum_type), nullptr);
  const uint64_t size = tree_.size(node), chunk = 8 << 20;
  for (uint64_t off = 0; off < size; off += chunk) {
    std::optional<std::string> bytes = cache_->Read(key, ByteRange{off, std::min(chunk, size - off)});
    if (!bytes) {  // evicted meanwhile: check again when it is whole again
      MutexLock lock(&verify_mu_);
      verify_started_.erase(node);
      return;
    }
    EVP_DigestUpdate(ctx.get(), bytes->data(), bytes->size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  std::string got = HexEncode(std::string_view(reinterpret_cast<char*>(digest), n)), want = Lower(info.checksum);
  std::string name = options_.mountpoint + "/" + tree_.Path(node);
  if (got == want) {
    spdlog::debug("{}: {} sum: {} (checked)", name, Name(info.checksum_type), got);
    return;
  }
  spdlog::error("{}: {} MISMATCH: inputs.json says {}, the bytes read hash to {}; its cached "
                "bytes are dropped", name, Name(info.checksum_type), want, got);
  cache_->DropObject(key);
}

}  // namespace datumfs
