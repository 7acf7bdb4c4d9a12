#include "cache/index_check.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <thread>

#include "cache/lmdb_index.h"

namespace datumfs {
namespace {

Status Lmdb(const std::string& what, int rc) {
  return Status::Errno(EIO, what, mdb_strerror(rc));
}

// Reads every record of `dbi`; `check` says whether one is well formed.
template <class Check>
Status WalkDb(MDB_txn* txn, MDB_dbi dbi, const std::string& name, Check check) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return Lmdb(name, rc);
  MDB_val k, v;
  uint64_t records = 0;
  Status bad;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    ++records;
    if (!check(MdbView(k), MdbView(v))) {
      bad = Status::Errno(EIO, name, "record " + std::to_string(records) + " is malformed");
      break;
    }
  }
  mdb_cursor_close(cur);
  if (!bad.ok()) return bad;
  return rc == MDB_NOTFOUND ? Status() : Lmdb(name, rc);
}

Status WalkDatabases(MDB_env* env, MDB_txn* txn) {
  MDB_envinfo info;
  mdb_env_info(env, &info);
  // Free list: txn id -> page numbers, each of a page that exists.
  Status s = WalkDb(txn, 0, "free list", [&](std::string_view k, std::string_view v) {
    if (k.size() != sizeof(size_t) || v.size() < sizeof(size_t) || v.size() % sizeof(size_t)) {
      return false;
    }
    size_t count = 0;
    std::memcpy(&count, v.data(), sizeof count);
    if (count != v.size() / sizeof(size_t) - 1) return false;
    for (size_t i = 1; i <= count; ++i) {
      size_t page = 0;
      std::memcpy(&page, v.data() + i * sizeof(size_t), sizeof page);
      if (page < 2 || page > info.me_last_pgno) return false;
    }
    return true;
  });
  if (!s.ok()) return s;
  MDB_dbi main = 0;
  int rc = mdb_dbi_open(txn, nullptr, 0, &main);
  if (rc != 0) return Lmdb("catalogue", rc);
  s = WalkDb(txn, main, "catalogue", [](std::string_view, std::string_view v) {
    return v.size() == 48;  // an MDB_db record per named database
  });
  if (!s.ok()) return s;
  struct Db {
    const char* name;
    bool (*check)(std::string_view, std::string_view);
  };
  const Db dbs[] = {
      {"extents",
       [](std::string_view k, std::string_view v) {
         std::string key;
         uint64_t offset = 0;
         Extent e;
         return DecodeExtentKey(k, &key, &offset) && DecodeExtentValue(v, offset, &e);
       }},
      {"meta", [](std::string_view, std::string_view v) { return v.size() == 8; }},
      {"claims",
       [](std::string_view k, std::string_view v) {
         std::string key;
         uint64_t offset = 0;
         LmdbIndex::Claim c;
         return DecodeExtentKey(k, &key, &offset) && DecodeClaim(v, offset, &c);
       }},
  };
  for (const Db& db : dbs) {
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, db.name, 0, &dbi);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) return Lmdb(db.name, rc);
    if (!(s = WalkDb(txn, dbi, db.name, db.check)).ok()) return s;
  }
  return Status();
}

}  // namespace

Status WalkIndex(const std::string& dir) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return Lmdb(dir, rc);
  mdb_env_set_maxdbs(env, 4);
  rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600);
  Status s;
  if (rc != 0) {
    s = Lmdb(dir, rc);
  } else {
    // The meta page's last page must lie inside the file: touching it otherwise is SIGBUS.
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &stat);
    struct stat st;
    std::string data = dir + "/data.mdb";
    if (::stat(data.c_str(), &st) != 0 ||
        static_cast<uint64_t>(st.st_size) < (info.me_last_pgno + 1) * uint64_t{stat.ms_psize}) {
      s = Status::Errno(EIO, dir, "the index is shorter than its last page");
    } else {
      MDB_txn* txn = nullptr;
      rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
      s = rc != 0 ? Lmdb(dir, rc) : WalkDatabases(env, txn);
      if (txn) mdb_txn_abort(txn);
    }
  }
  mdb_env_close(env);
  return s;
}

Status CheckIndex(const std::string& dir, std::chrono::milliseconds limit) {
  struct stat st;
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0) return Status();  // a new cache
  int fds[2];
  if (pipe(fds) != 0) return ErrnoStatus("cache index check", errno);
  fflush(nullptr);  // else the child's exit could print what the parent had buffered
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return ErrnoStatus("cache index check", errno);
  }
  if (pid == 0) {  // the child: walk, write what is wrong, exit
    close(fds[0]);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, SIG_DFL);  // die of it
    Status s = WalkIndex(dir);
    std::string message = s.message();
    if (!s.ok() && write(fds[1], message.data(), message.size()) < 0) _exit(2);
    _exit(s.ok() ? 0 : 1);
  }
  close(fds[1]);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + limit;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fds[0]);
    return Status::Errno(ETIMEDOUT, dir, "checking the index took too long");
  }
  std::string message(4096, '\0');
  ssize_t n = read(fds[0], message.data(), message.size());
  message.resize(n > 0 ? static_cast<size_t>(n) : 0);
  close(fds[0]);
  if (WIFSIGNALED(status)) {
    return Status::Errno(EIO, dir, std::string("the index is damaged (reading it crashed: ") +
                                       strsignal(WTERMSIG(status)) + ")");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status();
  return Status::Errno(EIO, "the index is damaged: " + (message.empty() ? "unknown" : message));
}

}  // namespace datumfs
