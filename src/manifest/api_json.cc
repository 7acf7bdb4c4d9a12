// api.json is a few hundred bytes, so a DOM is fine here.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cerrno>

#include "datumfs/json_depth.h"
#include "datumfs/manifest.h"
#include "manifest/json_error.h"

namespace datumfs {

Result<ApiConfig> ParseApi(std::string_view text, std::string_view display_name) {
  if (JsonNestingDepth(text) > kMaxJsonDepth) {
    return Status::Errno(EINVAL, display_name,
                         "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) +
                             " levels");
  }
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return JsonError(display_name, text, doc.GetErrorOffset(),
                     std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  auto fail = [&](const char* reason) { return Status::Errno(EINVAL, display_name, reason); };
  if (!doc.IsObject() || !doc.HasMember("input_request") || !doc["input_request"].IsObject()) {
    return fail("missing object \"input_request\"");
  }
  const auto& req = doc["input_request"];
  ApiConfig api;
  if (!req.HasMember("url") || !req["url"].IsString()) {
    return fail("\"input_request.url\" must be a string");
  }
  api.url = req["url"].GetString();
  if (req.HasMember("method")) {
    if (!req["method"].IsString()) return fail("\"input_request.method\" must be a string");
    api.method = req["method"].GetString();
  }
  if (req.HasMember("headers")) {
    if (!req["headers"].IsObject()) return fail("\"input_request.headers\" must be an object");
    for (const auto& h : req["headers"].GetObject()) {
      if (!h.value.IsString()) return fail("\"input_request.headers\" values must be strings");
      api.headers.emplace_back(h.name.GetString(), h.value.GetString());
    }
  }
  return api;
}

Result<ApiConfig> LoadApi(const std::string& path) {
  std::string text;
  if (Status s = ReadWholeFile(path, &text); !s.ok()) return s;
  return ParseApi(text, path);
}

}  // namespace datumfs
