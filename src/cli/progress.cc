#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "datumfs/units.h"

namespace datumfs {
namespace {

std::string Duration(double seconds) {
  auto s = static_cast<unsigned long long>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", s / 60, s % 60);
  }
  return buf;
}

// "85.3 MB/s  ETA 0:14", or "--" for the ETA before anything moved.
std::string RateAndEta(uint64_t done, uint64_t total, double seconds, const char* sep) {
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string eta = rate > 0 ? Duration(static_cast<double>(total - std::min(done, total)) / rate)
                             : "--";
  return HumanBytes(static_cast<uint64_t>(rate)) + "/s" + sep + "ETA " + eta;
}

int Percent(uint64_t done, uint64_t total) {
  return total == 0 ? 100 : static_cast<int>(std::min<uint64_t>(done, total) * 100 / total);
}

int TerminalWidth(FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

}  // namespace

Progress::Progress(FILE* out, bool tty, uint64_t total_bytes, uint64_t total_files,
                   std::chrono::milliseconds line_interval)
    : out_(out),
      tty_(tty),
      total_bytes_(total_bytes),
      total_files_(total_files),
      line_interval_(line_interval) {}

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::Bar(uint64_t done, uint64_t total, uint64_t files_done, uint64_t files,
                          double seconds, int width) {
  char tail[160];
  std::snprintf(tail, sizeof tail, " %3d%%  %s / %s  %s  %llu/%llu files", Percent(done, total),
                HumanBytes(done).c_str(), HumanBytes(total).c_str(),
                RateAndEta(done, total, seconds, "  ").c_str(),
                static_cast<unsigned long long>(files_done),
                static_cast<unsigned long long>(files));
  int cells = std::max(10, width - 3 - static_cast<int>(std::string_view(tail).size()));
  int full = cells * Percent(done, total) / 100;
  // Appended, not "[" + ...: GCC 12's -Wrestrict misfires on that at -O3.
  std::string bar = "[";
  bar.append(static_cast<size_t>(full), '#').append(static_cast<size_t>(cells - full), '.');
  return bar.append("]").append(tail);
}

std::string Progress::Line(uint64_t done, uint64_t total, uint64_t files_done, uint64_t files,
                           double seconds) {
  char line[200];
  std::snprintf(line, sizeof line, "%s / %s (%d%%), %s, %llu/%llu files", HumanBytes(done).c_str(),
                HumanBytes(total).c_str(), Percent(done, total),
                RateAndEta(done, total, seconds, ", ").c_str(),
                static_cast<unsigned long long>(files_done),
                static_cast<unsigned long long>(files));
  return line;
}

void Progress::Tick() {
  if (!out_) return;
  const uint64_t done = bytes_.load(), files = files_.load();
  if (tty_) {
    std::string bar = Bar(done, total_bytes_, files, total_files_, Elapsed(), TerminalWidth(out_));
    std::fprintf(out_, "\r%s\033[K", bar.c_str());  // \033[K: clear what a longer line left
  } else {
    auto now = std::chrono::steady_clock::now();
    if (now - last_line_ < line_interval_) return;
    last_line_ = now;
    std::fprintf(out_, "prefetch: %s\n",
                 Line(done, total_bytes_, files, total_files_, Elapsed()).c_str());
  }
  std::fflush(out_);
}

void Progress::Finish() {
  if (!out_) return;
  const uint64_t done = bytes_.load(), files = files_.load();
  if (tty_) {
    std::string bar = Bar(done, total_bytes_, files, total_files_, Elapsed(), TerminalWidth(out_));
    std::fprintf(out_, "\r%s\033[K\n", bar.c_str());
  } else {
    std::fprintf(out_, "prefetch: %s\n",
                 Line(done, total_bytes_, files, total_files_, Elapsed()).c_str());
  }
  std::fflush(out_);
}

}  // namespace datumfs
