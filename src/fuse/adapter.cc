// libfuse3 low-level handlers. Inode number = tree node id + 1 (FUSE_ROOT_ID is 1). The tree
// never changes, so lookups need no reference counting and forget only acknowledges.
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <set>
#include <stdexcept>

#include "base/mutex.h"
#include "datumfs/crc32c.h"
#include "datumfs/fuse_adapter.h"
#include "datumfs/redact.h"
#include "fuse/guarded.h"

namespace datumfs {

struct FuseMount::State {
  State(const Tree& t, int fd) : tree(t), local_dir_fd(fd) {}
  const Tree& tree;
  int local_dir_fd;
  Reader* reader = nullptr;
  std::function<void()> on_init;
  std::function<std::string()> stats_json;
  fuse_session* session = nullptr;
  bool mounted = false;
  uid_t uid = getuid();
  gid_t gid = getgid();
  // Files never change while mounted: let the kernel cache names and attributes for long.
  double timeout = 86400.0;
  int max_threads = 16;
  // Handles of open remote files: the kernel may not release them all before an unmount.
  Mutex open_mu;  // a leaf
  std::set<std::shared_ptr<OpenFile>*> open_files GUARDED_BY(open_mu);

  ~State() {
    MutexLock lock(&open_mu);
    for (auto* handle : open_files) delete handle;
  }
};

namespace {

using State = FuseMount::State;

State& Fs(fuse_req_t req) { return *static_cast<State*>(fuse_req_userdata(req)); }

// Returns the node for `ino`, or nullopt if the kernel sent one we never handed out.
std::optional<NodeId> Node(const State& fs, fuse_ino_t ino) {
  if (ino == 0 || !fs.tree.valid(static_cast<NodeId>(ino - 1))) return std::nullopt;
  return static_cast<NodeId>(ino - 1);
}

// A time that is the same on every mount of the same datum (or object, for a file without a
// datum id) and differs for another one, so that rsync -a and make see a remounted file as
// unchanged and a new version as changed: a second of 2020-2024 chosen by a hash. A directory's
// comes from its path.
timespec StableTime(const Tree& t, NodeId id) {
  constexpr int64_t kStart = 1577836800;         // 2020-01-01T00:00:00Z
  constexpr uint32_t kSpan = 5 * 365 * 86400;    // about five years
  std::string identity;
  if (t.kind(id) == NodeKind::kRemoteFile) {
    RemoteFileInfo info = t.remote(id);
    identity = info.datum_id.empty() ? ObjectIdentity(info.url) + "\n" + std::to_string(t.size(id))
                                     : std::string(info.datum_id);
  } else {
    identity = t.Path(id);
  }
  return timespec{kStart + crc32c::Value(identity) % kSpan, 0};
}

void FillAttr(const State& fs, NodeId id, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  const Tree& t = fs.tree;
  st->st_ino = id + 1;
  st->st_uid = fs.uid;
  st->st_gid = fs.gid;
  st->st_mtim = st->st_ctim = st->st_atim = StableTime(t, id);
  // Buffered readers (stdio, Python) size their reads by this: keep random reads small;
  // the kernel's read-ahead and ours make sequential reads large anyway.
  st->st_blksize = 4096;
  if (t.is_dir(id)) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(t.size(id));
    st->st_blocks = static_cast<blkcnt_t>((t.size(id) + 511) / 512);
  }
  if (t.has_local(id)) {  // keep what the file on disk says
    LocalFileInfo local = t.local(id);
    st->st_mode = (st->st_mode & S_IFMT) | (local.mode & 07777);
    st->st_mtim = st->st_ctim = st->st_atim = timespec{local.mtime_sec, local.mtime_nsec};
  }
}

fuse_entry_param Entry(const State& fs, NodeId id) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = id + 1;
  e.attr_timeout = e.entry_timeout = fs.timeout;
  FillAttr(fs, id, &e.attr);
  return e;
}

void OnInit(void* userdata, fuse_conn_info* conn) {
  auto& fs = *static_cast<State*>(userdata);
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  // The kernel's read-ahead and parallel readers send reads in the background; the default
  // (12 in flight) queues them behind each other while we could answer them from memory.
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  spdlog::debug("FUSE: max_read {} max_readahead {} max_write {} max_background {}",
                conn->max_read, conn->max_readahead, conn->max_write, conn->max_background);
  if (fs.on_init) fs.on_init();
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  State& fs = Fs(req);
  std::optional<NodeId> dir = Node(fs, parent);
  if (!dir) return (void)fuse_reply_err(req, ENOENT);
  if (!fs.tree.is_dir(*dir)) return (void)fuse_reply_err(req, ENOTDIR);
  if (std::optional<NodeId> child = fs.tree.Lookup(*dir, name)) {
    fuse_entry_param e = Entry(fs, *child);
    return (void)fuse_reply_entry(req, &e);
  }
  fuse_entry_param negative;  // ino 0: the kernel caches the miss for entry_timeout
  std::memset(&negative, 0, sizeof negative);
  negative.entry_timeout = fs.timeout;
  fuse_reply_entry(req, &negative);
}

void OnForget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }

void OnForgetMulti(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  FillAttr(fs, *id, &st);
  fuse_reply_attr(req, &st, fs.timeout);
}

void OnOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  if (!fs.tree.is_dir(*id)) return (void)fuse_reply_err(req, ENOTDIR);
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

// Entry i of a directory listing: 0 is ".", 1 is "..", then the children by name.
void ReplyDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  State& fs = Fs(req);
  std::optional<NodeId> dir = Node(fs, ino);
  if (!dir) return (void)fuse_reply_err(req, ENOENT);
  const Tree& t = fs.tree;
  const uint64_t total = 2 + uint64_t{t.child_count(*dir)};
  std::string buf(size, '\0');
  size_t used = 0;
  for (uint64_t i = static_cast<uint64_t>(off); i < total; ++i) {
    NodeId id = i == 0 ? *dir : i == 1 ? t.parent(*dir) : t.first_child(*dir) + NodeId(i - 2);
    std::string name = i == 0 ? "." : i == 1 ? ".." : std::string(t.name(id));
    size_t n;
    if (plus) {
      fuse_entry_param e = Entry(fs, id);
      n = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e,
                                 static_cast<off_t>(i + 1));
    } else {
      struct stat st;
      FillAttr(fs, id, &st);
      n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st,
                            static_cast<off_t>(i + 1));
    }
    if (n > size - used) break;  // did not fit: the kernel asks again from here
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void OnReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  ReplyDir(req, ino, size, off, false);
}

void OnReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  ReplyDir(req, ino, size, off, true);
}

void OnReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  if (fs.tree.is_dir(*id)) return (void)fuse_reply_err(req, EISDIR);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
  if (fs.tree.kind(*id) == NodeKind::kLocalFile) {
    std::string path(fs.tree.local(*id).path);
    int fd = openat(fs.local_dir_fd, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return (void)fuse_reply_err(req, errno);
    fi->fh = static_cast<uint64_t>(fd);
  } else {
    // O_NOATIME (prefetch, tar, rsync) marks a bulk reader: it yields to the job's reads.
    const bool bulk = (fi->flags & O_NOATIME) != 0;
    auto* handle = new std::shared_ptr<OpenFile>(fs.reader->Open(*id, bulk));
    {
      MutexLock lock(&fs.open_mu);
      fs.open_files.insert(handle);
    }
    fi->fh = reinterpret_cast<uint64_t>(handle);
  }
  fi->keep_cache = 1;  // the bytes never change: keep the page cache across opens
  fi->noflush = 1;
  fuse_reply_open(req, fi);
}

// Replies with `size` bytes of `fd` at `offset`, spliced into the kernel's reply without
// passing through our memory (libfuse copies instead for under two pages, or if the kernel
// cannot splice).
void ReplyFromFile(fuse_req_t req, int fd, off_t offset, size_t size) {
  fuse_bufvec buf;  // FUSE_BUFVEC_INIT is a compound literal, not C++
  std::memset(&buf, 0, sizeof buf);
  buf.count = 1;
  buf.buf[0].size = size;
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = fd;
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, static_cast<fuse_buf_copy_flags>(0));
}

void OnRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  if (fs.tree.kind(*id) == NodeKind::kLocalFile) {  // zero-copy from the file under the mount
    return ReplyFromFile(req, static_cast<int>(fi->fh), off, size);
  }
  // Exactly one reply: from Read, or here if it throws (out of memory) before it could.
  std::shared_ptr<std::atomic<bool>> replied;
  try {
    replied = std::make_shared<std::atomic<bool>>(false);
    // A copy: the handle may be released as soon as the reply is sent, before Read returns.
    std::shared_ptr<OpenFile> file = *reinterpret_cast<std::shared_ptr<OpenFile>*>(fi->fh);
    fs.reader->Read(
        std::move(file), static_cast<uint64_t>(off), size,
        [req, replied](const Status& status, std::string_view bytes) {
          if (replied->exchange(true)) return;
          if (!status.ok()) return (void)fuse_reply_err(req, status.errno_value());
          fuse_reply_buf(req, bytes.data(), bytes.size());
        },
        [req, replied](const CacheFileBytes& bytes) {
          if (replied->exchange(true)) return;
          ReplyFromFile(req, bytes.fd, static_cast<off_t>(bytes.offset), bytes.size);
        });
  } catch (const std::exception& e) {
    spdlog::error("read: {}", e.what());
    if (!replied || !replied->exchange(true)) {
      fuse_reply_err(req, dynamic_cast<const std::bad_alloc*>(&e) ? ENOMEM : EIO);
    }
  }
}

void OnRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (id && fs.tree.kind(*id) == NodeKind::kLocalFile) {
    close(static_cast<int>(fi->fh));
  } else if (id) {
    auto* handle = reinterpret_cast<std::shared_ptr<OpenFile>*>(fi->fh);
    {
      MutexLock lock(&fs.open_mu);
      fs.open_files.erase(handle);
    }
    delete handle;
  }
  fuse_reply_err(req, 0);
}

void OnStatfs(fuse_req_t req, fuse_ino_t) {
  State& fs = Fs(req);
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  st.f_bsize = st.f_frsize = 4096;
  st.f_blocks = (fs.tree.total_file_bytes() + 4095) / 4096;
  st.f_files = fs.tree.node_count();
  st.f_namemax = Tree::kMaxNameBytes;
  st.f_flag = ST_RDONLY;
  fuse_reply_statfs(req, &st);
}

constexpr std::string_view kStatsXattr = "user.datumfs.stats";
constexpr std::string_view kDatumIdXattr = "user.datumfs.datum_id";
constexpr std::string_view kCachedBytesXattr = "user.datumfs.cached_bytes";
constexpr std::string_view kUriXattr = "user.datumfs.uri";

// The extended attributes node `id` has, by name.
std::vector<std::string_view> XattrNames(const State& fs, NodeId id) {
  if (id == Tree::kRoot) return {kStatsXattr};
  if (fs.tree.kind(id) != NodeKind::kRemoteFile) return {};
  std::vector<std::string_view> names;
  RemoteFileInfo info = fs.tree.remote(id);
  if (!info.datum_id.empty()) names.push_back(kDatumIdXattr);
  names.push_back(kCachedBytesXattr);
  if (!info.uri.empty()) names.push_back(kUriXattr);
  return names;
}

std::optional<std::string> XattrValue(const State& fs, NodeId id, std::string_view name) {
  std::vector<std::string_view> names = XattrNames(fs, id);
  if (std::find(names.begin(), names.end(), name) == names.end()) return std::nullopt;
  if (name == kStatsXattr) return fs.stats_json ? fs.stats_json() : "{}";
  RemoteFileInfo info = fs.tree.remote(id);
  if (name == kDatumIdXattr) return std::string(info.datum_id);
  if (name == kUriXattr) return std::string(info.uri);
  return std::to_string(fs.reader->CachedBytes(id));
}

// Size 0 asks for the value's length; a buffer too small for it is ERANGE.
void ReplyXattr(fuse_req_t req, size_t size, std::string_view value) {
  if (size == 0) return (void)fuse_reply_xattr(req, value.size());
  if (size < value.size()) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, value.data(), value.size());
}

void OnGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  // Only the user namespace exists here. ENOTSUP (not ENODATA) for security.selinux and the
  // ACLs tells `ls -l`, `cp -a` and the like that this file system has none, and they stop
  // asking after the first file: two round trips per entry made `ls -l` of 200,000 entries
  // take 15-41 s. (The kernel stops forwarding getxattr only on ENOSYS, which would hide
  // user.datumfs.* too.)
  if (!std::string_view(name).starts_with("user.")) return (void)fuse_reply_err(req, ENOTSUP);
  std::optional<std::string> value = XattrValue(fs, *id, name);
  if (!value) return (void)fuse_reply_err(req, ENODATA);
  ReplyXattr(req, size, *value);
}

void OnListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  State& fs = Fs(req);
  std::optional<NodeId> id = Node(fs, ino);
  if (!id) return (void)fuse_reply_err(req, ENOENT);
  std::string list;  // names, each ending in NUL
  for (std::string_view name : XattrNames(fs, *id)) (list += name) += '\0';
  ReplyXattr(req, size, list);
}

// Everything that would change the tree.
void Erofs(fuse_req_t req) { fuse_reply_err(req, EROFS); }
void OnSetattr(fuse_req_t r, fuse_ino_t, struct stat*, int, fuse_file_info*) { Erofs(r); }
void OnMknod(fuse_req_t r, fuse_ino_t, const char*, mode_t, dev_t) { Erofs(r); }
void OnMkdir(fuse_req_t r, fuse_ino_t, const char*, mode_t) { Erofs(r); }
void OnUnlink(fuse_req_t r, fuse_ino_t, const char*) { Erofs(r); }
void OnSymlink(fuse_req_t r, const char*, fuse_ino_t, const char*) { Erofs(r); }
void OnRename(fuse_req_t r, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) { Erofs(r); }
void OnLink(fuse_req_t r, fuse_ino_t, fuse_ino_t, const char*) { Erofs(r); }
void OnWrite(fuse_req_t r, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) { Erofs(r); }
void OnCreate(fuse_req_t r, fuse_ino_t, const char*, mode_t, fuse_file_info*) { Erofs(r); }
void OnSetxattr(fuse_req_t r, fuse_ino_t, const char*, const char*, size_t, int) { Erofs(r); }
void OnRemovexattr(fuse_req_t r, fuse_ino_t, const char*) { Erofs(r); }
void OnFallocate(fuse_req_t r, fuse_ino_t, int, off_t, off_t, fuse_file_info*) { Erofs(r); }

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = OnInit;
  ops.lookup = Guarded<OnLookup>::Call;
  ops.forget = OnForget;
  ops.forget_multi = OnForgetMulti;
  ops.getattr = Guarded<OnGetattr>::Call;
  ops.opendir = Guarded<OnOpendir>::Call;
  ops.readdir = Guarded<OnReaddir>::Call;
  ops.readdirplus = Guarded<OnReaddirplus>::Call;
  ops.releasedir = Guarded<OnReleasedir>::Call;
  ops.open = Guarded<OnOpen>::Call;
  ops.read = OnRead;
  ops.release = Guarded<OnRelease>::Call;
  ops.statfs = Guarded<OnStatfs>::Call;
  ops.getxattr = Guarded<OnGetxattr>::Call;
  ops.listxattr = Guarded<OnListxattr>::Call;
  ops.setattr = OnSetattr;
  ops.mknod = OnMknod;
  ops.mkdir = OnMkdir;
  ops.unlink = OnUnlink;
  ops.rmdir = OnUnlink;
  ops.symlink = OnSymlink;
  ops.rename = OnRename;
  ops.link = OnLink;
  ops.write = OnWrite;
  ops.create = OnCreate;
  ops.setxattr = OnSetxattr;
  ops.removexattr = OnRemovexattr;
  ops.fallocate = OnFallocate;
  return ops;
}

}  // namespace

FuseMount::FuseMount(std::unique_ptr<State> state) : state_(std::move(state)) {}

FuseMount::~FuseMount() {
  Unmount();
  if (state_->session) fuse_session_destroy(state_->session);
}

void FuseMount::Unmount() {
  if (!state_->mounted) return;
  fuse_session_unmount(state_->session);
  state_->mounted = false;
}

Result<std::unique_ptr<FuseMount>> FuseMount::Mount(const Tree& tree, int local_dir_fd,
                                                    const MountOptions& options) {
  auto state = std::make_unique<State>(tree, local_dir_fd);
  state->max_threads = options.max_threads;
  std::string opts = "ro,default_permissions,fsname=datumfs,subtype=datumfs";
  for (const std::string& o : options.fuse_options) opts += "," + o;
  std::vector<const char*> argv{"datumfs", "-o", opts.c_str()};
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  static const fuse_lowlevel_ops ops = MakeOps();
  state->session = fuse_session_new(&args, &ops, sizeof ops, state.get());
  fuse_opt_free_args(&args);
  if (!state->session) {
    return Status::Errno(EINVAL, options.mountpoint, "invalid FUSE options \"" + opts + "\"");
  }
  std::unique_ptr<FuseMount> mount(new FuseMount(std::move(state)));
  if (fuse_session_mount(mount->state_->session, options.mountpoint.c_str()) != 0) {
    return Status::Errno(EIO, options.mountpoint, "mount failed (see the message above)");
  }
  mount->state_->mounted = true;
  return mount;
}

Status FuseMount::Serve(Reader& reader, std::function<void()> on_init,
                        std::function<std::string()> stats_json) {
  state_->reader = &reader;
  state_->on_init = std::move(on_init);
  state_->stats_json = std::move(stats_json);
  fuse_session* se = state_->session;
  if (fuse_set_signal_handlers(se) != 0) return Status::Errno(EIO, "cannot set signal handlers");
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(config, static_cast<unsigned>(state_->max_threads));
  fuse_loop_cfg_set_clone_fd(config, 0);
  int rc = fuse_session_loop_mt(se, config);
  fuse_loop_cfg_destroy(config);
  fuse_remove_signal_handlers(se);
  if (rc < 0) return Status::Errno(-rc, "FUSE session loop", std::strerror(-rc));
  return Status();
}

}  // namespace datumfs
