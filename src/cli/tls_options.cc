#include "cli/tls_options.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

namespace datumfs {
namespace {

const char* GetEnv(const char* name) { return std::getenv(name); }

// A readable file with at least one PEM certificate in it.
Status CheckBundle(const std::string& path, const std::string& source) {
  const std::string what = source + " " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(what, errno ? errno : ENOENT);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-----BEGIN CERTIFICATE-----", 0) == 0) return Status();
  }
  if (in.bad()) return ErrnoStatus(what, errno ? errno : EIO);
  return Status::Errno(EINVAL, what, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
}

}  // namespace

Result<TlsOptions> ResolveTls(const std::string& ca_file_option,
                              const char* (*env)(const char*)) {
  if (!env) env = &GetEnv;
  TlsOptions tls;
  std::string source = "--ca-file";
  tls.ca_file = ca_file_option;
  for (const char* name : {"CURL_CA_BUNDLE", "SSL_CERT_FILE"}) {
    const char* value = env(name);
    if (!tls.ca_file.empty() || !value || !*value) continue;
    tls.ca_file = value;
    source = name;
  }
  if (!tls.ca_file.empty()) {
    if (Status s = CheckBundle(tls.ca_file, source); !s.ok()) return s;
  }
  if (const char* dir = env("SSL_CERT_DIR"); dir && *dir) tls.ca_path = dir;
  return tls;
}

}  // namespace datumfs
