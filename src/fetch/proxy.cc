#include "fetch/proxy.h"

#include <cstdlib>

#include "fetch/tls.h"

namespace datumfs {
namespace {

const char* GetEnv(const char* name) { return std::getenv(name); }

std::string_view SchemeOf(std::string_view url) {
  size_t colon = url.find("://");
  return colon == std::string_view::npos ? std::string_view() : url.substr(0, colon);
}

// The authority of a proxy URL ("user:password@host:port"); the scheme is optional.
std::string_view AuthorityOf(std::string_view proxy) {
  std::string_view scheme = SchemeOf(proxy);
  std::string_view rest = scheme.empty() ? proxy : proxy.substr(scheme.size() + 3);
  return rest.substr(0, rest.find('/'));
}

}  // namespace

std::optional<ProxySetting> ProxyFromEnvironment(std::string_view scheme,
                                                 const char* (*env)(const char*)) {
  if (!env) env = &GetEnv;
  // libcurl reads http_proxy only in lower case (HTTP_PROXY could come from a CGI request).
  const char* https_names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
  const char* http_names[] = {"http_proxy", "all_proxy", "ALL_PROXY", nullptr};
  for (const char* name : scheme == "https" ? https_names : http_names) {
    if (!name) break;
    const char* value = env(name);
    if (value && *value) return ProxySetting{name, value};
  }
  return std::nullopt;
}

std::string RedactProxy(std::string_view proxy) {
  std::string_view scheme = SchemeOf(proxy);
  std::string_view authority = AuthorityOf(proxy);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority = authority.substr(at + 1);
  return (scheme.empty() ? std::string("http") : std::string(scheme)) + "://" +
         std::string(authority);
}

std::optional<ProxyProblem> DescribeProxyProblem(CURLcode result, long connect_code,
                                                 std::string_view detail, const std::string& url,
                                                 const char* (*env)(const char*)) {
  if (result == CURLE_OK) return std::nullopt;
  std::optional<ProxySetting> proxy = ProxyFromEnvironment(SchemeOf(url), env);
  const std::string name = proxy ? "the proxy " + RedactProxy(proxy->url) + " (" +
                                       proxy->variable + ")"
                                 : std::string("the proxy");
  const std::string host = UrlHostPort(url);
  if (result == CURLE_COULDNT_RESOLVE_PROXY) {
    return ProxyProblem{"cannot resolve the host of " + name, false};
  }
  if (connect_code == 407) {
    const bool has_credentials =
        proxy && AuthorityOf(proxy->url).find('@') != std::string_view::npos;
    return ProxyProblem{name + " wants credentials (HTTP 407 to CONNECT " + host + "): " +
                            (has_credentials ? "it refused the ones given"
                                             : "give them as http://USER:PASSWORD@HOST:PORT"),
                        true};
  }
  if (connect_code >= 400 && connect_code < 500) {
    return ProxyProblem{name + " refused to CONNECT to " + host + " (HTTP " +
                            std::to_string(connect_code) +
                            "): ask its operator to allow it, or add the host to no_proxy",
                        true};
  }
  if (connect_code >= 500) {
    return ProxyProblem{name + " could not reach " + host + " (HTTP " +
                            std::to_string(connect_code) + ")",
                        false};
  }
  if (result == CURLE_COULDNT_CONNECT && proxy) {
    // libcurl's words name the address it could not reach: the proxy's, unless no_proxy
    // sent this URL straight to the store.
    std::string_view authority = AuthorityOf(proxy->url);
    authority.remove_prefix(authority.rfind('@') + 1);  // (npos + 1 == 0)
    size_t colon = authority.rfind(':');
    std::string_view port = colon == std::string_view::npos ? "" : authority.substr(colon + 1);
    if (!port.empty() && detail.find("port " + std::string(port)) != std::string_view::npos) {
      return ProxyProblem{"cannot connect to " + name, false};
    }
  }
  return std::nullopt;
}

}  // namespace datumfs
