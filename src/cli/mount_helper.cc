#include "cli/mount_helper.h"

#include <algorithm>
#include <map>

#include "base/split.h"

namespace datumfs {
namespace {

// datumfs's own -o keys, and the mount option each stands for.
const std::map<std::string, std::string>& ValueOptions() {
  static const std::map<std::string, std::string> options = {
      {"api", "--api"},
      {"cache_dir", "--cache-dir"},
      {"cache_max", "--cache-max"},
      {"min_free", "--min-free"},
      {"log_level", "--log-level"},
      {"log_file", "--log-file"},
      {"read_timeout", "--read-timeout"},
      {"stall_timeout", "--stall-timeout"},
      {"refresh_margin", "--refresh-margin"},
      {"ca_file", "--ca-file"},
      {"walk_ahead", "--walk-ahead"},
      {"download", "--download"},
      {"site_cache", "--site-cache"},  // once a node: commas separate mount options
  };
  return options;
}

}  // namespace

std::optional<Result<std::vector<std::string>>> MountHelperArgs(
    const std::vector<std::string>& args, const std::vector<std::string>& subcommands) {
  if (args.size() < 2 || args[0].empty() || args[0][0] == '-' ||
      std::find(subcommands.begin(), subcommands.end(), args[0]) != subcommands.end()) {
    return std::nullopt;
  }
  std::vector<std::string> out = {"mount", "--inputs", args[0]};
  std::vector<std::string> fuse;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] != "-o") {
      out.push_back(args[i]);  // e.g. -f; CLI11 judges it
      continue;
    }
    if (++i == args.size()) {
      return Result<std::vector<std::string>>(Status::Errno(EINVAL, "-o", "needs OPTIONS"));
    }
    for (const std::string& option : SplitNonEmpty(args[i])) {
      size_t eq = option.find('=');
      std::string key = option.substr(0, eq);
      auto known = ValueOptions().find(key);
      if (known != ValueOptions().end()) {
        if (eq == std::string::npos || eq + 1 == option.size()) {
          return Result<std::vector<std::string>>(
              Status::Errno(EINVAL, "-o " + key, "needs a value (" + key + "=...)"));
        }
        out.push_back(known->second);
        out.push_back(option.substr(eq + 1));
      } else if (option == "strict") {
        out.push_back("--strict");
      } else if (option != "rw" && option != "ro") {  // always read-only
        fuse.push_back(option);
      }
    }
  }
  if (!fuse.empty()) {
    std::string joined;
    for (const std::string& f : fuse) joined += (joined.empty() ? "" : ",") + f;
    out.push_back("-o");
    out.push_back(joined);
  }
  out.push_back(args[1]);
  return Result<std::vector<std::string>>(std::move(out));
}

}  // namespace datumfs
