#include "datumfs/redact.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include <curl/curl.h>

namespace datumfs {
namespace {

// Query parameters that sign a URL (or say until when it is valid), lower case.
constexpr std::array<std::string_view, 46> kSigningParameters = {
    // S3 (signature versions 4 and 2)
    "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
    "x-amz-signature", "x-amz-security-token", "awsaccesskeyid", "signature", "expires",
    // GCS (V4 and V2)
    "x-goog-algorithm", "x-goog-credential", "x-goog-date", "x-goog-expires",
    "x-goog-signedheaders", "x-goog-signature", "googleaccessid",
    // Azure shared access signatures
    "sv", "ss", "srt", "sp", "se", "st", "spr", "sig", "sr", "si", "sdd", "ses", "skoid",
    "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid", "rscc", "rscd", "rsce", "rscl",
    "rsct",
    // OpenStack Swift temporary URLs
    "temp_url_sig", "temp_url_expires",
    // nginx secure_link (its signature; its expiry is "expires" above)
    "md5"};

bool IsSigningParameter(std::string_view pair) {
  std::string name(pair.substr(0, pair.find('=')));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kSigningParameters.begin(), kSigningParameters.end(), name) !=
         kSigningParameters.end();
}

// By hand, for what libcurl cannot parse: everything before the query and fragment, without
// a user:password@ part (up to its last '@': a password may hold one).
std::string RedactByHand(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  size_t scheme_end = url.find("://");
  size_t authority = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  size_t path = url.find('/', authority);
  size_t at = url.substr(0, path).rfind('@');
  if (at == std::string_view::npos || at < authority) return std::string(url);
  return std::string(url.substr(0, authority)) + std::string(url.substr(at + 1));
}

}  // namespace

// libcurl's URL API parses the URL as the fetcher will: what it calls the user, password,
// query and fragment are dropped, whatever characters they hold.
std::string RedactUrl(std::string_view url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), &curl_url_cleanup);
  const std::string text(url);
  char* out = nullptr;
  if (!u || curl_url_set(u.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME) !=
                CURLUE_OK) {
    return RedactByHand(url);
  }
  for (CURLUPart part : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS,
                         CURLUPART_QUERY, CURLUPART_FRAGMENT}) {
    curl_url_set(u.get(), part, nullptr, 0);
  }
  if (curl_url_get(u.get(), CURLUPART_URL, &out, 0) != CURLUE_OK) return RedactByHand(url);
  std::string redacted(out);
  curl_free(out);
  return redacted;
}

std::string ObjectIdentity(std::string_view url) {
  url = url.substr(0, url.find('#'));
  size_t q = url.find('?');
  std::string out = RedactByHand(url.substr(0, q));  // cache keys: never normalized
  if (q == std::string_view::npos) return out;
  std::string_view query = url.substr(q + 1);
  char separator = '?';
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty() && !IsSigningParameter(pair)) {
      (out += separator) += pair;
      separator = '&';
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace datumfs
