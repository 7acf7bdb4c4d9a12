// TLS for every libcurl handle of the fetch module: which CAs are trusted, and what a TLS
// failure means for the user. Verification of the peer and its host name is never turned off.
#ifndef DATUMFS_FETCH_TLS_H_
#define DATUMFS_FETCH_TLS_H_

#include <curl/curl.h>

#include <optional>
#include <string>
#include <string_view>

#include "datumfs/fetch.h"

namespace datumfs {

// Sets the trusted CAs of `easy` from `tls` (libcurl's defaults where a field is empty).
void ApplyTls(CURL* easy, const TlsOptions& tls);

// The CA bundle `easy` used: tls.ca_file, or else libcurl's built-in default.
std::string CaBundleUsed(CURL* easy, const TlsOptions& tls);

// A TLS failure that trying again cannot fix, as one sentence saying what is wrong with `host`
// and what to do; nullopt for any other result (including handshakes cut short, which may be
// transient). `detail` is libcurl's error buffer; `ca_file` the bundle that was used.
std::optional<std::string> PermanentTlsProblem(CURLcode result, std::string_view detail,
                                               std::string_view host, std::string_view ca_file);

// "host:port" of `url` ("host" if it names no port), or "" if it does not parse.
std::string UrlHostPort(const std::string& url);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_TLS_H_
