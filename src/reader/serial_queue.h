// SerialQueue: runs tasks one after another, in the order posted, on a thread of its own.
// The reader writes fetched ranges into the cache through one (the fetch thread goes on
// receiving while the disk writes: an 8 MiB write takes tens of milliseconds on a slow disk)
// and loads cached read-ahead through another. Private to src/reader.
#ifndef DATUMFS_READER_SERIAL_QUEUE_H_
#define DATUMFS_READER_SERIAL_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>

#include "base/mutex.h"

namespace datumfs {

class SerialQueue {
 public:
  SerialQueue();
  ~SerialQueue();  // runs what is queued, then stops
  SerialQueue(const SerialQueue&) = delete;
  SerialQueue& operator=(const SerialQueue&) = delete;

  // Queues `task`; once stopped, runs it at once on the caller's thread.
  void Post(std::function<void()> task) EXCLUDES(mu_);
  // Runs what is queued and stops the thread. Idempotent.
  void Stop() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  Mutex mu_;  // a leaf: tasks run without it
  CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace datumfs

#endif  // DATUMFS_READER_SERIAL_QUEUE_H_
