#include "fetch/input_request_url.h"

#include <curl/curl.h>

#include <memory>

namespace datumfs {

std::string InputRequestUrl(const std::string& api_url, const std::string& input_id) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), &curl_url_cleanup);
  const std::string query = "input=" + input_id;
  char* out = nullptr;
  // URLENCODE with APPENDQUERY encodes what follows the first '=', and adds '&' as needed.
  if (u && curl_url_set(u.get(), CURLUPART_URL, api_url.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u.get(), CURLUPART_QUERY, query.c_str(),
                   CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK &&
      curl_url_get(u.get(), CURLUPART_URL, &out, 0) == CURLUE_OK) {
    std::string url(out);
    curl_free(out);
    return url;
  }
  // Not a URL libcurl can parse: the request fails with the same error either way.
  return api_url + (api_url.find('?') == std::string::npos ? "?" : "&") + query;
}

}  // namespace datumfs
