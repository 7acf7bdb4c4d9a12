#include <doctest/doctest.h>

#include <new>
#include <stdexcept>
#include <vector>

#include "fuse/guarded.h"

namespace datumfs {

namespace {

std::vector<int> replies;  // the errors the fake fuse_reply_err was given, in order

int RecordReply(fuse_req_t, int err) {
  replies.push_back(err);
  return 0;
}

void RunsOutOfMemory(fuse_req_t, int) { throw std::bad_alloc(); }
void ThrowsRuntimeError(fuse_req_t, int) { throw std::runtime_error("broken"); }
void ThrowsInt(fuse_req_t, int) { throw 42; }
void RepliesItself(fuse_req_t req, int err) { RecordReply(req, err); }

}  // namespace

TEST_SUITE("fuse") {
  TEST_CASE("a handler that throws gets an error reply instead of ending the daemon") {
    replies.clear();
    Guarded<RunsOutOfMemory, &RecordReply>::Call(nullptr, 0);
    Guarded<ThrowsRuntimeError, &RecordReply>::Call(nullptr, 0);
    Guarded<ThrowsInt, &RecordReply>::Call(nullptr, 0);
    CHECK(replies == std::vector<int>{ENOMEM, EIO, EIO});
  }

  TEST_CASE("a handler that does not throw makes its own reply, once") {
    replies.clear();
    Guarded<RepliesItself, &RecordReply>::Call(nullptr, 7);
    CHECK(replies == std::vector<int>{7});
  }
}

}  // namespace datumfs
