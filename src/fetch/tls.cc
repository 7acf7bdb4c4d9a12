#include "fetch/tls.h"

namespace datumfs {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

void ApplyTls(CURL* easy, const TlsOptions& tls) {
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.ca_path.empty()) curl_easy_setopt(easy, CURLOPT_CAPATH, tls.ca_path.c_str());
}

std::string CaBundleUsed(CURL* easy, const TlsOptions& tls) {
  if (!tls.ca_file.empty()) return tls.ca_file;
  char* built_in = nullptr;  // CURLINFO_CAINFO is the default, not what was set
  curl_easy_getinfo(easy, CURLINFO_CAINFO, &built_in);
  return built_in ? built_in : "";
}

std::optional<std::string> PermanentTlsProblem(CURLcode result, std::string_view detail,
                                               std::string_view host, std::string_view ca_file) {
  const std::string who = "the TLS certificate of " + std::string(host);
  switch (result) {
    case CURLE_SSL_CACERT_BADFILE:
      return "no CA certificates to check " + std::string(host) + "'s certificate with (" +
             (ca_file.empty() ? std::string("the system bundle") : std::string(ca_file)) +
             " cannot be read): install ca-certificates, or pass --ca-file";
    case CURLE_SSL_CONNECT_ERROR:
      // The usual words when a plain HTTP server answers the handshake; else maybe transient.
      if (Contains(detail, "wrong version number") || Contains(detail, "packet length too long")) {
        return std::string(host) + " does not speak TLS on that port (an http:// server "
                                   "behind an https:// URL?)";
      }
      return std::nullopt;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
      break;
    default:
      return std::nullopt;
  }
  if (Contains(detail, "expired")) {
    return who + " has expired (or this machine's clock is wrong)";
  }
  if (Contains(detail, "not yet valid")) {
    return who + " is not valid yet (or this machine's clock is wrong)";
  }
  if (Contains(detail, "subject name") || Contains(detail, "host name") ||
      Contains(detail, "hostname")) {
    return who + " is for another host name (a wrong URL, or something in between)";
  }
  if (Contains(detail, "local issuer") || Contains(detail, "self-signed") ||
      Contains(detail, "self signed") || Contains(detail, "issuer")) {
    return who + " is not signed by a CA this machine trusts: pass --ca-file with the CA "
                 "that signed it (or install ca-certificates, for a public store)";
  }
  return who + " was refused (" + std::string(detail) + ")";
}

std::string UrlHostPort(const std::string& url) {
  CURLU* u = curl_url();
  std::string out;
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    out = host;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) (out += ':') += port;
  }
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return out;
}

}  // namespace datumfs
