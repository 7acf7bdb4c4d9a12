// The manifest: what /valohai/config/inputs.json and api.json say (formats in shared/seeds/000).
//
// inputs.json is read in one pass with RapidJSON's SAX Reader, so a million-file manifest needs
// memory for the files it lists, not for a DOM of its text. Unknown fields are ignored; a
// missing or mistyped required field is an error naming the file, line, column, byte offset,
// the input and the file's index. Names are not validated here: that is the tree's job, so
// that one bad entry can be skipped without refusing the whole mount. Pure; thread-compatible.
#ifndef DATUMFS_MANIFEST_H_
#define DATUMFS_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "datumfs/status.h"

namespace datumfs {

struct Checksums {
  std::string md5;
  std::string sha1;
  std::string sha256;
};

struct InputFile {
  uint32_t input_index = 0;     // into Manifest::inputs
  std::string name;             // path inside the input; may hold '/' ("dogs/000201.jpg")
  std::string datum_id;         // empty when the file is not a Valohai datum
  std::string download_intent;  // "on-demand", or empty / anything else: downloaded up front
  std::string storage_uri;      // the pre-signed URL to read from (a secret: redact it)
  std::string uri;              // the original uri ("datum://...", "s3://...")
  uint64_t size = 0;
  Checksums checksums;
};

struct Input {
  std::string name;      // the top-level directory under the mountpoint
  std::string input_id;  // used to ask the input_request API for fresh URLs
};

struct Manifest {
  std::vector<Input> inputs;
  std::vector<InputFile> files;
};

// Receives the files of inputs.json one at a time, as the parser meets them, so that a caller
// can build its own compact structure without a list of every entry in between.
class ManifestSink {
 public:
  virtual ~ManifestSink() = default;
  // `input` has its name (its input_id may come later in the text); `index_in_input` counts
  // the files of that input from 0. A non-OK status stops the parse and is returned as is.
  virtual Status OnFile(const Input& input, const InputFile& file, size_t index_in_input) = 0;
};

// Streams inputs.json at `path` into `sink`; returns the inputs (names and ids), in order.
// Errors as for LoadInputs, or the sink's own status.
Result<std::vector<Input>> ReadInputs(const std::string& path, ManifestSink& sink);
Result<std::vector<Input>> ReadInputsText(std::string_view text, std::string_view display_name,
                                          ManifestSink& sink);

// Reads inputs.json at `path` into memory (tests and small tools; the mount streams). Errors are EINVAL (bad content) or the errno of the failed read,
// with messages like: inputs.json:12:5 (byte 301): input "train", file 3: missing "size".
Result<Manifest> LoadInputs(const std::string& path);

// The same for text already in memory; `display_name` stands for the path in messages.
Result<Manifest> ParseInputs(std::string_view text, std::string_view display_name);

// /valohai/config/api.json: how to ask for fresh pre-signed URLs of one input.
struct ApiConfig {
  std::string method = "POST";
  std::string url;  // append "&input=<input_id>"
  std::vector<std::pair<std::string, std::string>> headers;  // secrets: never log the values
};

Result<ApiConfig> LoadApi(const std::string& path);
Result<ApiConfig> ParseApi(std::string_view text, std::string_view display_name);

}  // namespace datumfs

#endif  // DATUMFS_MANIFEST_H_
