#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "datumfs/manifest.h"

namespace datumfs {
namespace {

std::string Error(std::string_view text) {
  Result<Manifest> r = ParseInputs(text, "inputs.json");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().errno_value() == EINVAL);
  return r.error().message();
}

constexpr const char* kGood = R"({
  "train": {
    "input_id": "5c83f6fb",
    "files": [
      {"datum_id": "019a17bd", "download_intent": "on-demand", "input_id": "5c83f6fb",
       "metadata": [{"index": 4, "nested": {"a": [1, 2, {"b": null}]}}],
       "name": "dogs/000201.jpg", "path": "/valohai/inputs/train/dogs/000201.jpg",
       "size": 1828388, "storage_uri": "https://store/b/k?sig=1", "uri": "datum://019a17bd",
       "checksums": {"md5": "m", "sha1": "s1", "sha256": "s256", "crc": 5},
       "future_field": {"x": [true, false]}},
      {"datum_id": null, "name": "b.txt", "size": 0, "storage_uri": "https://store/b"}
    ],
    "unknown": [1, 2, 3]
  },
  "empty": {"input_id": "e", "files": []}
})";

}  // namespace

TEST_SUITE("manifest") {
  TEST_CASE("reads every field of the seed format and ignores unknown ones") {
    Result<Manifest> r = ParseInputs(kGood, "inputs.json");
    REQUIRE(r.has_value());
    const Manifest& m = r.value();
    REQUIRE(m.inputs.size() == 2);
    CHECK(m.inputs[0].name == "train");
    CHECK(m.inputs[0].input_id == "5c83f6fb");
    CHECK(m.inputs[1].name == "empty");
    REQUIRE(m.files.size() == 2);
    const InputFile& f = m.files[0];
    CHECK(f.input_index == 0);
    CHECK(f.name == "dogs/000201.jpg");
    CHECK(f.datum_id == "019a17bd");
    CHECK(f.download_intent == "on-demand");
    CHECK(f.size == 1828388);
    CHECK(f.storage_uri == "https://store/b/k?sig=1");
    CHECK(f.uri == "datum://019a17bd");
    CHECK(f.checksums.md5 == "m");
    CHECK(f.checksums.sha1 == "s1");
    CHECK(f.checksums.sha256 == "s256");
    CHECK(m.files[1].datum_id.empty());
    CHECK(m.files[1].size == 0);
  }

  TEST_CASE("sizes up to 2^64-1 are read exactly") {
    Result<Manifest> r = ParseInputs(
        R"({"x":{"files":[{"name":"a","size":18446744073709551615,"storage_uri":"u"}]}})", "i");
    REQUIRE(r.has_value());
    CHECK(r.value().files[0].size == 18446744073709551615ull);
  }

  TEST_CASE("a document nested a million levels deep is an error, not a crash") {
    std::string deep = "{\"train\": {\"input_id\": \"i\", \"files\": [], \"x\": " +
                       std::string(1000000, '[') + std::string(1000000, ']') + "}}";
    Result<Manifest> r = ParseInputs(deep, "inputs.json");
    CHECK(r.has_value());  // unknown fields are skipped, however deep
    std::string unclosed = "{\"a\": " + std::string(1000000, '[');
    CHECK(Error(unclosed).rfind("inputs.json", 0) == 0);
    Result<ApiConfig> api = ParseApi(std::string(1000000, '['), "api.json");
    REQUIRE_FALSE(api.has_value());
    CHECK(api.error().message() == "api.json: invalid JSON: nested deeper than 64 levels");
  }

  TEST_CASE("an empty document is an error with its position") {
    CHECK(Error("") == "inputs.json:1:1 (byte 0): invalid JSON: The document is empty.");
  }

  TEST_CASE("text that is not JSON names line and column") {
    CHECK(Error("{\n  \"a\": {\n    oops\n") ==
          "inputs.json:3:5 (byte 15): invalid JSON: Missing a name for object member.");
  }

  TEST_CASE("a truncated document is an error") {
    CHECK(Error(R"({"x": {"files": [{"name": "a")") ==
          "inputs.json:1:30 (byte 29): invalid JSON: Missing a comma or '}' after an object "
          "member.");
  }

  TEST_CASE("the top level must be an object") {
    CHECK(Error("[1]") ==
          "inputs.json:1:1 (byte 0): expected an object of inputs at the top level");
  }

  TEST_CASE("an input must be an object") {
    CHECK(Error(R"({"x": 5})") == "inputs.json:1:7 (byte 6): input \"x\": expected an object");
  }

  TEST_CASE("files must be an array") {
    CHECK(Error(R"({"x": {"files": {}}})") ==
          "inputs.json:1:17 (byte 16): input \"x\": \"files\" must be an array");
  }

  TEST_CASE("a file entry must be an object") {
    CHECK(Error(R"({"x": {"files": ["a"]}})") ==
          "inputs.json:1:21 (byte 20): input \"x\", file 0: expected an object");
  }

  TEST_CASE("size of the wrong type names input, file index and name") {
    CHECK(Error(R"({"x": {"files": [{"name": "a", "size": 1, "storage_uri": "u"},
{"name": "b.bin", "size": "12"}]}})") ==
          "inputs.json:2:31 (byte 93): input \"x\", file 1 (\"b.bin\"): \"size\" must be a "
          "non-negative integer");
  }

  TEST_CASE("a negative size is refused") {
    CHECK(Error(R"({"x":{"files":[{"size":-1}]}})") ==
          "inputs.json:1:24 (byte 23): input \"x\", file 0: \"size\" must be a non-negative "
          "integer");
  }

  TEST_CASE("a fractional size is refused") {
    CHECK(Error(R"({"x":{"files":[{"size":1.5}]}})") ==
          "inputs.json:1:24 (byte 23): input \"x\", file 0: \"size\" must be a non-negative "
          "integer");
  }

  TEST_CASE("a name of the wrong type is refused") {
    CHECK(Error(R"({"x":{"files":[{"name":7}]}})") ==
          "inputs.json:1:24 (byte 23): input \"x\", file 0: \"name\" must be a string");
  }

  TEST_CASE("checksums must be an object of strings") {
    CHECK(Error(R"({"x":{"files":[{"name":"a","checksums":"md5"}]}})") ==
          "inputs.json:1:45 (byte 44): input \"x\", file 0 (\"a\"): \"checksums\" must be an "
          "object");
    CHECK(Error(R"({"x":{"files":[{"name":"a","checksums":{"md5":1}}]}})") ==
          "inputs.json:1:47 (byte 46): input \"x\", file 0 (\"a\"): \"checksums.md5\" must be a "
          "string");
  }

  TEST_CASE("missing required fields are named") {
    CHECK(Error(R"({"x":{"files":[{"size":1,"storage_uri":"u"}]}})") ==
          "inputs.json:1:43 (byte 42): input \"x\", file 0: missing \"name\"");
    CHECK(Error(R"({"x":{"files":[{"name":"a","storage_uri":"u"}]}})") ==
          "inputs.json:1:45 (byte 44): input \"x\", file 0 (\"a\"): missing \"size\"");
    CHECK(Error(R"({"x":{"files":[{"name":"a","size":3}]}})") ==
          "inputs.json:1:36 (byte 35): input \"x\", file 0 (\"a\"): missing \"storage_uri\"");
  }

  TEST_CASE("null is absent for optional fields but not for required ones") {
    CHECK(ParseInputs(R"({"x":{"files":[{"name":"a","size":1,"storage_uri":"u","uri":null,
      "datum_id":null,"checksums":null}]}})", "i").has_value());
    CHECK(Error(R"({"x":{"files":[{"name":null}]}})") ==
          "inputs.json:1:28 (byte 27): input \"x\", file 0: \"name\" must be a string");
  }

  TEST_CASE("input_id must be a string") {
    CHECK(Error(R"({"x":{"input_id":3}})") ==
          "inputs.json:1:18 (byte 17): input \"x\": \"input_id\" must be a string");
  }

  TEST_CASE("LoadInputs names the file it could not open") {
    Result<Manifest> r = LoadInputs("/nonexistent/inputs.json");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().errno_value() == ENOENT);
    CHECK(r.error().message() == "/nonexistent/inputs.json: No such file or directory");
  }

  TEST_CASE("api.json gives method, url and headers") {
    Result<ApiConfig> r = ParseApi(R"({"input_request": {"method": "POST",
      "url": "https://app/request-input-data/?execution=1",
      "headers": {"Authorization": "Execution-Token t"}}})", "api.json");
    REQUIRE(r.has_value());
    CHECK(r.value().method == "POST");
    CHECK(r.value().url == "https://app/request-input-data/?execution=1");
    REQUIRE(r.value().headers.size() == 1);
    CHECK(r.value().headers[0].first == "Authorization");
    CHECK(r.value().headers[0].second == "Execution-Token t");
  }

  TEST_CASE("api.json errors are named") {
    CHECK(ParseApi("{}", "api.json").error().message() ==
          "api.json: missing object \"input_request\"");
    CHECK(ParseApi(R"({"input_request": {}})", "api.json").error().message() ==
          "api.json: \"input_request.url\" must be a string");
    CHECK(ParseApi("{", "api.json").error().message() ==
          "api.json:1:2 (byte 1): invalid JSON: Missing a name for object member.");
  }
}

}  // namespace datumfs
