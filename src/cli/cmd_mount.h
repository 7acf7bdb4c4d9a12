// `datumfs mount`: options, and the mount itself.
#ifndef DATUMFS_CLI_CMD_MOUNT_H_
#define DATUMFS_CLI_CMD_MOUNT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace datumfs {

struct MountArgs {
  std::string inputs = "/valohai/config/inputs.json";
  std::string api = "/valohai/config/api.json";
  std::string mountpoint = "/valohai/inputs";
  std::string cache_dir = "/var/cache/datumfs";
  std::string cache_max;  // a size; empty: no limit beyond the disk
  std::string min_free;   // a size or N%; empty: the default of CacheOptions
  bool strict = false;
  bool foreground = false;
  std::vector<std::string> fuse_options;
  double read_timeout_seconds = 30;
  double stall_timeout_seconds = 10;
  double refresh_margin_seconds = 60;
  std::string download;  // inputs to download in the background: "all" or names, comma-separated
  uint32_t walk_ahead_files = 64;  // files fetched ahead of a walk, at most; 0: off
  std::string log_level = "info";
  std::string log_file;  // empty: stderr with -f, otherwise syslog
  std::string ca_file;   // empty: CURL_CA_BUNDLE, SSL_CERT_FILE or the system bundle
  std::vector<std::string> site_caches;  // site cache nodes' base URLs (doc/site-cache.md)
};

// Adds the `mount` subcommand to `app`, filling `args` when parsed.
CLI::App* AddMountCommand(CLI::App& app, MountArgs& args);

// Returns the process exit status.
int RunMount(const MountArgs& args);

}  // namespace datumfs

#endif  // DATUMFS_CLI_CMD_MOUNT_H_
