// The public face of the read path: everything is in ReadPath (read_path.h).
#include "datumfs/reader.h"

#include "reader/read_path.h"

namespace datumfs {

Reader::Reader(const Tree& tree, Fetcher& fetcher, BlockCache* cache, UrlRefresher* refresher,
               const ReaderOptions& options)
    : impl_(std::make_unique<ReadPath>(tree, fetcher, cache, refresher, options)) {}

Reader::~Reader() = default;

std::shared_ptr<OpenFile> Reader::Open(NodeId node, bool bulk) { return impl_->Open(node, bulk); }

void Reader::Read(std::shared_ptr<OpenFile> file, uint64_t offset, size_t size, ReadDone done,
                  ReadFromFile from_file) {
  impl_->Read(std::move(file), offset, size, std::move(done), std::move(from_file));
}

ReaderCounters Reader::counters() const { return impl_->counters(); }

uint64_t Reader::CachedBytes(NodeId node) const { return impl_->CachedBytes(node); }

void Reader::Stop() { impl_->Stop(); }

}  // namespace datumfs
