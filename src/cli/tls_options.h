// Which certificate authorities the store's (and the API's) TLS certificates must chain to.
#ifndef DATUMFS_CLI_TLS_OPTIONS_H_
#define DATUMFS_CLI_TLS_OPTIONS_H_

#include <string>

#include "datumfs/fetch.h"
#include "datumfs/status.h"

namespace datumfs {

// The CA bundle is --ca-file (also DATUMFS_CA_FILE, ca_file= in fstab) if given, else
// CURL_CA_BUNDLE, else SSL_CERT_FILE, as curl does; SSL_CERT_DIR names a directory of hashed
// certificates. None of them: libcurl's default (the system bundle). A bundle that is named
// must be a readable file holding a PEM certificate: otherwise an error naming it and where
// its name came from. `env` reads the environment (getenv; tests pass their own).
Result<TlsOptions> ResolveTls(const std::string& ca_file_option,
                              const char* (*env)(const char*) = nullptr);

}  // namespace datumfs

#endif  // DATUMFS_CLI_TLS_OPTIONS_H_
