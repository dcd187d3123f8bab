#pragma once
// A small JSON value with a strict parser and a compact writer: enough for file headers
// kiln reads and writes (safetensors) and one-line reports, not a general library.
//
//   absl::StatusOr<Json> doc = Json::Parse(R"({"a": [1, 2.5, "x"]})");
//   const Json* a = doc->Find("a");          // (*a)[0].integer() == 1
//   Json out = Json::Object();
//   out.Set("loss", Json(0.25));
//   out.Dump();                              // {"loss":0.25}
//
// Objects keep their members in insertion (or document) order, so what is written is
// exactly what was built. Numbers keep an exact int64 besides the double when the text
// is an integer (data offsets past 2^53 stay exact).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;  // null
  explicit Json(bool value) : type_(Type::kBool), bool_(value) {}
  explicit Json(double value) : type_(Type::kNumber), number_(value) {}
  explicit Json(int64_t value)
      : type_(Type::kNumber), number_(static_cast<double>(value)), integer_(value),
        is_integer_(true) {}
  explicit Json(int value) : Json(static_cast<int64_t>(value)) {}
  explicit Json(std::string value) : type_(Type::kString), string_(std::move(value)) {}
  explicit Json(const char* value) : Json(std::string(value)) {}
  static Json Array() { return Json(Type::kArray); }
  static Json Object() { return Json(Type::kObject); }

  // Parses one JSON document (RFC 8259; surrounding whitespace allowed). Errors name
  // the byte offset. Duplicate object keys are rejected: they make a header ambiguous.
  static absl::StatusOr<Json> Parse(std::string_view text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  // A number written without fraction or exponent that fits in int64.
  bool is_integer() const { return type_ == Type::kNumber && is_integer_; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Accessors; each requires the matching type (KILN_CHECK).
  bool boolean() const;
  double number() const;
  int64_t integer() const;
  const std::string& string() const;
  const std::vector<Json>& array() const;
  const std::vector<std::pair<std::string, Json>>& members() const;

  // Array element `i`; requires an array and i < size().
  const Json& operator[](size_t i) const;
  // Elements of an array or members of an object; 0 otherwise.
  size_t size() const;
  // The member called `key` of an object, or nullptr (also for a non-object).
  const Json* Find(std::string_view key) const;

  // Appends to an array.
  Json& Push(Json value);
  // Sets member `key` of an object (replacing an existing one in place).
  Json& Set(std::string key, Json value);

  // Compact text: no spaces, members in order, strings escaped, numbers in the shortest
  // form that reads back to the same double (integers exactly). Non-finite numbers,
  // which JSON cannot hold, are written as null.
  std::string Dump() const;

 private:
  explicit Json(Type type) : type_(type) {}
  void DumpTo(std::string* out) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  bool is_integer_ = false;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> members_;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace kiln
