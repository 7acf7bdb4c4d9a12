#include "fetch/input_request.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cerrno>

#include "datumfs/json_depth.h"
#include "datumfs/quote.h"
#include "fetch/input_request_url.h"
#include "fetch/proxy.h"
#include "fetch/tls.h"

namespace datumfs {
namespace {

int AbortIfStopping(void* abort, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(abort)->load() ? 1 : 0;
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The input_request answer: [ { "name", "files": [ { "filename", "url", ... } ] } ].
Result<std::map<std::string, std::string>> ParseAnswer(const std::string& body,
                                                       const std::string& what) {
  if (JsonNestingDepth(body) > kMaxJsonDepth) {
    return Status::Errno(EIO, what, "bad JSON: nested deeper than " +
                                        std::to_string(kMaxJsonDepth) + " levels");
  }
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    return Status::Errno(EIO, what, std::string("bad JSON: ") +
                                        rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsArray()) return Status::Errno(EIO, what, "answer is not a list of inputs");
  std::map<std::string, std::string> urls;
  for (const auto& input : doc.GetArray()) {
    if (!input.IsObject() || !input.HasMember("files") || !input["files"].IsArray()) continue;
    for (const auto& f : input["files"].GetArray()) {
      if (f.IsObject() && f.HasMember("filename") && f["filename"].IsString() &&
          f.HasMember("url") && f["url"].IsString()) {
        urls[f["filename"].GetString()] = f["url"].GetString();
      }
    }
  }
  return urls;
}

}  // namespace

Result<std::map<std::string, std::string>> RequestInputUrls(const InputRequestApi& api,
                                                           const RefreshOptions& options,
                                                           const std::string& input_id,
                                                           const std::string& input_name,
                                                           std::atomic<bool>* abort) {
  std::string what = "input_request for input " + Quote(input_name);
  const std::string url = InputRequestUrl(api.url, input_id);
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : api.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  std::string body;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, api.method.c_str());
  if (api.method == "POST") curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "datumfs/" DATUMFS_VERSION);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &AbortIfStopping);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, abort);
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  ApplyTls(easy, options.tls);
  CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  long connect_code = 0;
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  const std::string bundle = CaBundleUsed(easy, options.tls);
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  if (auto problem = PermanentTlsProblem(rc, error, UrlHostPort(api.url), bundle)) {
    return Status::Errno(EIO, what, *problem);
  }
  if (auto proxy = DescribeProxyProblem(rc, connect_code, error, url)) {
    return Status::Errno(EIO, what, proxy->message);
  }
  if (rc != CURLE_OK) return Status::Errno(EIO, what, curl_easy_strerror(rc));
  if (status != 200) return Status::Errno(EIO, what, "HTTP " + std::to_string(status));
  return ParseAnswer(body, what);
}

}  // namespace datumfs
