// Guarded<Handler>::Call: a FUSE low-level handler that cannot take the daemon down.
#ifndef DATUMFS_FUSE_GUARDED_H_
#define DATUMFS_FUSE_GUARDED_H_

#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <exception>
#include <new>

namespace datumfs {

// Runs a handler whose reply is its last step. What it throws becomes an error reply (ENOMEM
// for bad_alloc, else EIO) and a log line, instead of std::terminate taking every mount down.
// `ReplyError` is fuse_reply_err; tests pass their own.
template <auto Handler, auto ReplyError = &fuse_reply_err>
struct Guarded;

template <class... Args, void (*Handler)(fuse_req_t, Args...), auto ReplyError>
struct Guarded<Handler, ReplyError> {
  static void Call(fuse_req_t req, Args... args) {
    try {
      Handler(req, args...);
    } catch (const std::bad_alloc&) {
      spdlog::error("FUSE request: out of memory");
      ReplyError(req, ENOMEM);
    } catch (const std::exception& e) {
      spdlog::error("FUSE request: {}", e.what());
      ReplyError(req, EIO);
    } catch (...) {
      spdlog::error("FUSE request: unknown exception");
      ReplyError(req, EIO);
    }
  }
};

}  // namespace datumfs

#endif  // DATUMFS_FUSE_GUARDED_H_
