// Proxies: libcurl picks one from the environment as curl does (https_proxy, HTTPS_PROXY,
// http_proxy, all_proxy, ALL_PROXY, no_proxy, NO_PROXY). When a transfer fails because of it,
// these say so, naming the proxy without its credentials.
#ifndef DATUMFS_FETCH_PROXY_H_
#define DATUMFS_FETCH_PROXY_H_

#include <curl/curl.h>

#include <optional>
#include <string>
#include <string_view>

namespace datumfs {

struct ProxyProblem {
  std::string message;  // what is wrong, naming the proxy (never its credentials), what to do
  bool permanent = false;  // trying again cannot help (credentials wanted, tunnel refused)
};

// The proxy the environment names for URLs of `scheme` ("https" or "http"), as libcurl reads
// it, and the variable it came from; nullopt if none. `env` reads the environment.
struct ProxySetting {
  std::string variable;  // "https_proxy", ...
  std::string url;       // as set: may hold credentials
};
std::optional<ProxySetting> ProxyFromEnvironment(std::string_view scheme,
                                                 const char* (*env)(const char*) = nullptr);

// `proxy` as scheme://host:port, without user name or password.
std::string RedactProxy(std::string_view proxy);

// Why the attempt failed, if a proxy is the reason: `connect_code` is the proxy's answer to
// CONNECT (CURLINFO_HTTP_CONNECTCODE, 0 for none), `detail` libcurl's error buffer, `url` the
// one requested. nullopt if the proxy is not to blame.
std::optional<ProxyProblem> DescribeProxyProblem(CURLcode result, long connect_code,
                                                 std::string_view detail, const std::string& url,
                                                 const char* (*env)(const char*) = nullptr);

}  // namespace datumfs

#endif  // DATUMFS_FETCH_PROXY_H_
