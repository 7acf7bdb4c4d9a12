// inputs.json through RapidJSON's SAX Reader: a small state machine over the document's
// events, so the text is never held as a DOM. Ignored fields (and their whole values, however
// nested) are skipped by counting depth.
#include <rapidjson/error/en.h>
#include <rapidjson/filereadstream.h>
#include <rapidjson/reader.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "datumfs/manifest.h"
#include "datumfs/quote.h"
#include "manifest/json_error.h"

namespace datumfs {
namespace {

enum class State { kStart, kRoot, kInput, kFiles, kFile, kChecksums, kDone };

enum class Field {
  kNone, kSkip, kInputId, kFiles, kDatumId, kIntent, kName, kStorageUri, kUri, kSize,
  kChecksums, kMd5, kSha1, kSha256
};

Field InputField(std::string_view key) {
  if (key == "input_id") return Field::kInputId;
  if (key == "files") return Field::kFiles;
  return Field::kSkip;
}

Field FileField(std::string_view key) {
  if (key == "datum_id") return Field::kDatumId;
  if (key == "download_intent") return Field::kIntent;
  if (key == "name") return Field::kName;
  if (key == "storage_uri") return Field::kStorageUri;
  if (key == "uri") return Field::kUri;
  if (key == "size") return Field::kSize;
  if (key == "checksums") return Field::kChecksums;
  return Field::kSkip;  // path, input_id, metadata and anything unknown
}

Field ChecksumField(std::string_view key) {
  if (key == "md5") return Field::kMd5;
  if (key == "sha1") return Field::kSha1;
  if (key == "sha256") return Field::kSha256;
  return Field::kSkip;
}

const char* FieldName(Field f) {
  switch (f) {
    case Field::kInputId: return "input_id";
    case Field::kFiles: return "files";
    case Field::kDatumId: return "datum_id";
    case Field::kIntent: return "download_intent";
    case Field::kName: return "name";
    case Field::kStorageUri: return "storage_uri";
    case Field::kUri: return "uri";
    case Field::kSize: return "size";
    case Field::kChecksums: return "checksums";
    case Field::kMd5: return "checksums.md5";
    case Field::kSha1: return "checksums.sha1";
    case Field::kSha256: return "checksums.sha256";
    default: return "?";
  }
}

class InputsHandler {
 public:
  InputsHandler(std::vector<Input>* inputs, ManifestSink* sink) : inputs_(inputs), sink_(sink) {}

  const std::string& error() const { return error_; }
  // The sink's status when it stopped the parse; OK otherwise.
  const Status& sink_status() const { return sink_status_; }

  bool Null() { return Scalar(Kind::kNull); }
  bool Bool(bool) { return Scalar(Kind::kOther); }
  bool Int(int i) { return i < 0 ? Scalar(Kind::kOther) : Unsigned(static_cast<unsigned>(i)); }
  bool Uint(unsigned u) { return Unsigned(u); }
  bool Int64(int64_t i) { return i < 0 ? Scalar(Kind::kOther) : Unsigned(static_cast<uint64_t>(i)); }
  bool Uint64(uint64_t u) { return Unsigned(u); }
  bool Double(double) { return Scalar(Kind::kOther); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Scalar(Kind::kOther); }
  bool String(const char* s, rapidjson::SizeType n, bool);
  bool StartObject();
  bool Key(const char* s, rapidjson::SizeType n, bool);
  bool EndObject(rapidjson::SizeType);
  bool StartArray();
  bool EndArray(rapidjson::SizeType);

 private:
  enum class Kind { kNull, kOther };

  bool Skipping(bool opens, bool closes);
  bool Scalar(Kind kind);
  bool Unsigned(uint64_t value);
  bool Fail(const std::string& reason);
  bool TypeError(const char* expected);
  std::string InputLabel() const;
  std::string FileLabel() const;
  bool FinishFile();

  std::vector<Input>* inputs_;
  ManifestSink* sink_;
  Status sink_status_;
  State state_ = State::kStart;
  Field field_ = Field::kNone;
  int skip_depth_ = 0;
  InputFile file_;
  size_t file_index_ = 0;
  bool has_name_ = false, has_size_ = false, has_url_ = false;
  std::string error_;
};

// Consumes the event if it belongs to a value being skipped. Returns true when consumed.
bool InputsHandler::Skipping(bool opens, bool closes) {
  if (skip_depth_ > 0) {
    skip_depth_ += opens ? 1 : closes ? -1 : 0;
    return true;
  }
  if (field_ == Field::kSkip) {
    field_ = Field::kNone;
    if (opens) skip_depth_ = 1;
    return true;
  }
  return false;
}

bool InputsHandler::Fail(const std::string& reason) {
  error_ = reason;
  return false;
}

std::string InputsHandler::InputLabel() const {
  return "input " + Quote(inputs_->back().name);
}

std::string InputsHandler::FileLabel() const {
  std::string label = InputLabel() + ", file " + std::to_string(file_index_);
  if (has_name_) label += " (" + Quote(file_.name) + ")";
  return label;
}

bool InputsHandler::TypeError(const char* expected) {
  switch (state_) {
    case State::kStart: return Fail("expected an object of inputs at the top level");
    case State::kRoot: return Fail(InputLabel() + ": expected an object");
    case State::kInput: return Fail(InputLabel() + ": \"" + FieldName(field_) + "\" must be " + expected);
    case State::kFiles: return Fail(FileLabel() + ": expected an object");
    case State::kFile:
    case State::kChecksums:
      return Fail(FileLabel() + ": \"" + FieldName(field_) + "\" must be " + expected);
    case State::kDone: return Fail("unexpected value after the inputs object");
  }
  return false;
}

const char* ExpectedFor(Field f) {
  if (f == Field::kSize) return "a non-negative integer";
  if (f == Field::kFiles) return "an array";
  if (f == Field::kChecksums) return "an object";
  return "a string";
}

bool InputsHandler::Scalar(Kind kind) {
  if (Skipping(false, false)) return true;
  if (kind == Kind::kNull && (state_ == State::kFile || state_ == State::kChecksums)) {
    // null stands for "absent" in optional fields; required ones are checked at the end.
    if (field_ != Field::kName && field_ != Field::kSize && field_ != Field::kStorageUri) {
      field_ = Field::kNone;
      return true;
    }
  }
  return TypeError(ExpectedFor(field_));
}

bool InputsHandler::Unsigned(uint64_t value) {
  if (Skipping(false, false)) return true;
  if (state_ != State::kFile || field_ != Field::kSize) return TypeError(ExpectedFor(field_));
  file_.size = value;
  has_size_ = true;
  field_ = Field::kNone;
  return true;
}

bool InputsHandler::String(const char* s, rapidjson::SizeType n, bool) {
  if (Skipping(false, false)) return true;
  std::string value(s, n);
  switch (field_) {
    case Field::kInputId:
      if (state_ != State::kInput) break;
      inputs_->back().input_id = std::move(value);
      field_ = Field::kNone;
      return true;
    case Field::kDatumId: file_.datum_id = std::move(value); break;
    case Field::kIntent: file_.download_intent = std::move(value); break;
    case Field::kName: file_.name = std::move(value); has_name_ = true; break;
    case Field::kStorageUri: file_.storage_uri = std::move(value); has_url_ = true; break;
    case Field::kUri: file_.uri = std::move(value); break;
    case Field::kMd5: file_.checksums.md5 = std::move(value); break;
    case Field::kSha1: file_.checksums.sha1 = std::move(value); break;
    case Field::kSha256: file_.checksums.sha256 = std::move(value); break;
    default: return TypeError(ExpectedFor(field_));
  }
  field_ = Field::kNone;
  return true;
}

bool InputsHandler::StartObject() {
  if (Skipping(true, false)) return true;
  if (state_ == State::kStart) {
    state_ = State::kRoot;
  } else if (state_ == State::kRoot && field_ == Field::kNone && !inputs_->empty()) {
    state_ = State::kInput;
  } else if (state_ == State::kFiles) {
    file_ = InputFile();
    file_.input_index = static_cast<uint32_t>(inputs_->size() - 1);
    has_name_ = has_size_ = has_url_ = false;
    state_ = State::kFile;
  } else if (state_ == State::kFile && field_ == Field::kChecksums) {
    state_ = State::kChecksums;
  } else {
    return TypeError(ExpectedFor(field_));
  }
  field_ = Field::kNone;
  return true;
}

bool InputsHandler::Key(const char* s, rapidjson::SizeType n, bool) {
  if (Skipping(false, false)) return true;
  std::string_view key(s, n);
  switch (state_) {
    case State::kRoot: inputs_->push_back(Input{std::string(key), ""}); break;
    case State::kInput: field_ = InputField(key); break;
    case State::kFile: field_ = FileField(key); break;
    case State::kChecksums: field_ = ChecksumField(key); break;
    default: break;
  }
  return true;
}

bool InputsHandler::FinishFile() {
  const char* missing = !has_name_ ? "name" : !has_size_ ? "size" : !has_url_ ? "storage_uri" : nullptr;
  if (missing) return Fail(FileLabel() + ": missing \"" + missing + "\"");
  sink_status_ = sink_->OnFile(inputs_->back(), file_, file_index_);
  if (!sink_status_.ok()) return false;
  ++file_index_;
  has_name_ = false;
  return true;
}

bool InputsHandler::EndObject(rapidjson::SizeType) {
  if (Skipping(false, true)) return true;
  switch (state_) {
    case State::kChecksums: state_ = State::kFile; return true;
    case State::kFile: state_ = State::kFiles; return FinishFile();
    case State::kInput: state_ = State::kRoot; return true;
    case State::kRoot: state_ = State::kDone; return true;
    default: return Fail("unexpected end of object");
  }
}

bool InputsHandler::StartArray() {
  if (Skipping(true, false)) return true;
  if (state_ != State::kInput || field_ != Field::kFiles) return TypeError(ExpectedFor(field_));
  state_ = State::kFiles;
  file_index_ = 0;
  field_ = Field::kNone;
  return true;
}

bool InputsHandler::EndArray(rapidjson::SizeType) {
  if (Skipping(false, true)) return true;
  state_ = State::kInput;
  return true;
}

// Returns OK, the sink's status, or EINVAL with *reason and *offset set (the caller adds the
// file name and position).
template <class Stream>
Status Parse(Stream& stream, std::vector<Input>* inputs, ManifestSink& sink, std::string* reason,
             size_t* offset) {
  InputsHandler handler(inputs, &sink);
  rapidjson::Reader reader;
  rapidjson::ParseResult ok =
      // Iterative: a document nested a million levels deep is an error, not a stack overflow.
      reader.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
          stream, handler);
  if (ok) return Status();
  if (!handler.sink_status().ok()) return handler.sink_status();
  *offset = ok.Offset();
  *reason = ok.Code() == rapidjson::kParseErrorTermination
                ? handler.error()
                : std::string("invalid JSON: ") + rapidjson::GetParseError_En(ok.Code());
  return Status::Errno(EINVAL, *reason);
}

// Collects every file: for tests and small tools.
class CollectingSink : public ManifestSink {
 public:
  explicit CollectingSink(std::vector<InputFile>* files) : files_(files) {}
  Status OnFile(const Input&, const InputFile& file, size_t) override {
    files_->push_back(file);
    return Status();
  }

 private:
  std::vector<InputFile>* files_;
};

}  // namespace

Result<std::vector<Input>> ReadInputsText(std::string_view text, std::string_view display_name,
                                          ManifestSink& sink) {
  std::vector<Input> inputs;
  std::string copy(text);  // StringStream needs a terminating NUL
  rapidjson::StringStream stream(copy.c_str());
  std::string reason;
  size_t offset = 0;
  Status s = Parse(stream, &inputs, sink, &reason, &offset);
  if (s.ok()) return inputs;
  if (!reason.empty()) return JsonError(display_name, text, offset, reason);
  return s;
}

Result<std::vector<Input>> ReadInputs(const std::string& path, ManifestSink& sink) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return ErrnoStatus(path, errno);
  char buf[65536];
  rapidjson::FileReadStream stream(f.get(), buf, sizeof buf);
  std::vector<Input> inputs;
  std::string reason;
  size_t offset = 0;
  Status s = Parse(stream, &inputs, sink, &reason, &offset);
  if (s.ok()) {
    if (std::ferror(f.get())) return ErrnoStatus(path, EIO);
    return inputs;
  }
  if (reason.empty()) return s;  // the sink's
  std::string text;  // only now: for the line and column of the error
  if (Status r = ReadWholeFile(path, &text); !r.ok()) return r;
  return JsonError(path, text, offset, reason);
}

Result<Manifest> ParseInputs(std::string_view text, std::string_view display_name) {
  Manifest m;
  CollectingSink sink(&m.files);
  Result<std::vector<Input>> inputs = ReadInputsText(text, display_name, sink);
  if (!inputs) return inputs.error();
  m.inputs = std::move(inputs).value();
  return m;
}

Result<Manifest> LoadInputs(const std::string& path) {
  Manifest m;
  CollectingSink sink(&m.files);
  Result<std::vector<Input>> inputs = ReadInputs(path, sink);
  if (!inputs) return inputs.error();
  m.inputs = std::move(inputs).value();
  return m;
}

}  // namespace datumfs
