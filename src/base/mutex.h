// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with Clang's
// thread-safety annotations, so that `clang++ -Wthread-safety` checks which lock guards what
// (libstdc++'s own types carry no annotations). Under GCC the annotations are empty.
// Like leveldb's port::Mutex and util/mutexlock.h.
#ifndef DATUMFS_BASE_MUTEX_H_
#define DATUMFS_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define DATUMFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define DATUMFS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) DATUMFS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY DATUMFS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) DATUMFS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) DATUMFS_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) DATUMFS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define REQUIRES(...) DATUMFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) DATUMFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) DATUMFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) DATUMFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) DATUMFS_THREAD_ANNOTATION(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS DATUMFS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace datumfs {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis the caller holds it (where it cannot see that, e.g. in a callback).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope; Unlock()/Lock() let go of it for a while inside that scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_->Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    held_ = false;
    mu_->Unlock();
  }
  void Lock() ACQUIRE() {
    mu_->Lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A condition variable; its waits require the Mutex they let go of meanwhile.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns early when signalled (or spuriously).
  template <class Rep, class Period>
  void WaitFor(Mutex* mu, std::chrono::duration<Rep, Period> timeout) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait_for(lock, timeout);
    lock.release();
  }
  // Returns at `deadline` at the latest, or early when signalled (or spuriously).
  template <class Clock, class Duration>
  void WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait_until(lock, deadline);
    lock.release();
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace datumfs

#endif  // DATUMFS_BASE_MUTEX_H_
