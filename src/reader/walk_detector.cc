#include "reader/walk_detector.h"

#include <algorithm>
#include <utility>

namespace datumfs {

WalkDetector::WalkDetector(WalkOptions options, uint32_t files)
    : options_(options), files_(files) {}

const WalkDetector::Stream* WalkDetector::Match(uint32_t position) const {
  const Stream* best = nullptr;
  uint64_t best_distance = UINT64_MAX;
  for (const Stream& s : streams_) {
    const uint64_t reach = uint64_t{s.window} + options_.slack;
    const uint64_t distance =
        position >= s.furthest ? position - s.furthest : s.furthest - position;
    if (distance <= reach && distance < best_distance) {
      best = &s;
      best_distance = distance;
    }
  }
  return best;
}

WalkDetector::Stream* WalkDetector::Match(uint32_t position) {
  return const_cast<Stream*>(std::as_const(*this).Match(position));
}

WalkDetector::Stream& WalkDetector::Start(uint32_t position) {
  // Going elsewhere: the walk last followed (most likely the same reader's) was mispredicted.
  auto latest = std::max_element(streams_.begin(), streams_.end(),
                                 [](const Stream& a, const Stream& b) { return a.used < b.used; });
  if (latest != streams_.end()) latest->window /= 2;
  Stream fresh{position, position, position + 1, 0, 1, 0, opens_};
  if (streams_.size() < options_.streams) {
    streams_.push_back(fresh);
    return streams_.back();
  }
  auto oldest = std::min_element(streams_.begin(), streams_.end(),
                                 [](const Stream& a, const Stream& b) { return a.used < b.used; });
  *oldest = fresh;
  return *oldest;
}

void WalkDetector::Follow(Stream& s, uint32_t position) {
  s.used = opens_;
  ++s.opened;
  s.first = std::min(s.first, position);
  const bool forward = position > s.furthest;
  s.forward += forward;
  const bool predicted = forward && position < s.predicted_end && s.window > 0;
  s.furthest = std::max(s.furthest, position);
  s.predicted_end = std::max(s.predicted_end, s.furthest + 1);
  if (!s.Tight(options_.min_opened, options_.slack)) {
    s.window /= 2;  // leaving gaps: not a walk (any more)
  } else if (s.window == 0) {
    s.window = options_.first_window;
  } else if (predicted) {
    s.window = std::min(options_.max_window, s.window + 2);  // it came true: look further
  }
}

WalkDetector::Stream& WalkDetector::Merge(size_t i) {
  Stream merged = streams_[i];
  const uint64_t low = merged.first > options_.slack ? merged.first - options_.slack : 0;
  // In place: the walks kept move down over the ones folded (kept < j), in their order; the
  // merged one goes last.
  size_t kept = 0;
  for (size_t j = 0; j < streams_.size(); ++j) {
    const Stream& t = streams_[j];
    if (j == i) continue;
    if (t.furthest >= low && t.first <= merged.predicted_end) {
      merged.first = std::min(merged.first, t.first);
      merged.furthest = std::max(merged.furthest, t.furthest);
      merged.predicted_end = std::max(merged.predicted_end, t.predicted_end);
      merged.opened += t.opened;
      merged.forward += t.forward;
    } else {
      streams_[kept++] = t;
    }
  }
  streams_[kept++] = merged;
  streams_.resize(kept);
  return streams_.back();
}

WalkRange WalkDetector::Opened(uint32_t position) {
  ++opens_;
  if (position >= files_) return {};
  Stream* found = Match(position);
  if (!found) {
    Start(position);
    return {};
  }
  Follow(*found, position);
  Stream& s = Merge(static_cast<size_t>(found - streams_.data()));
  const uint32_t end = static_cast<uint32_t>(
      std::min<uint64_t>(files_, uint64_t{s.furthest} + 1 + s.window));
  WalkRange ahead{std::max(s.predicted_end, s.furthest + 1), end};
  if (ahead.empty()) return {};
  s.predicted_end = ahead.end;
  return ahead;
}

uint32_t WalkDetector::WindowAt(uint32_t position) const {
  const Stream* s = Match(position);
  return s ? s->window : 0;
}

}  // namespace datumfs
