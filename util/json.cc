#include "util/json.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "util/check.h"

namespace kiln {
namespace {

// Deep enough for any header; bounded so hostile input cannot overflow the stack.
constexpr int kMaxDepth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  absl::StatusOr<Json> Document() {
    Json value;
    if (!Value(&value, 0)) return Error();
    SkipSpace();
    if (i_ != s_.size()) {
      error_ = "unexpected text after the document";
      return Error();
    }
    return value;
  }

 private:
  absl::Status Error() const {
    return absl::InvalidArgumentError(absl::StrCat("json: ", error_, " at offset ", i_));
  }
  bool Fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) {
      ++i_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return Fail("invalid literal");
    i_ += word.size();
    return true;
  }

  bool Value(Json* out, int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    SkipSpace();
    if (i_ >= s_.size()) return Fail("unexpected end of input");
    switch (s_[i_]) {
      case '{':
        return ObjectValue(out, depth);
      case '[':
        return ArrayValue(out, depth);
      case '"': {
        std::string text;
        if (!String(&text)) return false;
        *out = Json(std::move(text));
        return true;
      }
      case 't':
        *out = Json(true);
        return Literal("true");
      case 'f':
        *out = Json(false);
        return Literal("false");
      case 'n':
        *out = Json();
        return Literal("null");
      default:
        return Number(out);
    }
  }

  bool ObjectValue(Json* out, int depth) {
    ++i_;  // '{'
    *out = Json::Object();
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != '"') return Fail("expected a member name");
      std::string key;
      if (!String(&key)) return false;
      if (out->Find(key) != nullptr) return Fail("duplicate member name");
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != ':') return Fail("expected ':'");
      ++i_;
      Json value;
      if (!Value(&value, depth + 1)) return false;
      out->Set(std::move(key), std::move(value));
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool ArrayValue(Json* out, int depth) {
    ++i_;  // '['
    *out = Json::Array();
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    while (true) {
      Json value;
      if (!Value(&value, depth + 1)) return false;
      out->Push(std::move(value));
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  bool Hex4(uint32_t* code) {
    if (i_ + 4 > s_.size()) return Fail("truncated \\u escape");
    *code = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      *code <<= 4;
      if (c >= '0' && c <= '9') {
        *code |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        *code |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        *code |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("bad \\u escape");
      }
    }
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool String(std::string* out) {
    ++i_;  // '"'
    while (true) {
      if (i_ >= s_.size()) return Fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return Fail("unterminated string");
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t code;
          if (!Hex4(&code)) return false;
          if (code >= 0xD800 && code < 0xDC00) {  // a surrogate pair makes one code point
            uint32_t low;
            if (s_.substr(i_, 2) != "\\u") return Fail("unpaired surrogate");
            i_ += 2;
            if (!Hex4(&low)) return false;
            if (low < 0xDC00 || low >= 0xE000) return Fail("unpaired surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            return Fail("unpaired surrogate");
          }
          AppendUtf8(code, out);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
  }

  bool Number(Json* out) {
    const size_t start = i_;
    bool integral = true;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      return Fail("invalid value");
    }
    if (s_[i_] == '0' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
      return Fail("leading zero in number");
    }
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ < s_.size() && s_[i_] == '.') {
      integral = false;
      ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        return Fail("digit expected after '.'");
      }
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      integral = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        return Fail("digit expected in exponent");
      }
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    const std::string text(s_.substr(start, i_ - start));
    if (integral) {
      int64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && end == text.data() + text.size()) {
        *out = Json(value);
        return true;
      }
    }
    *out = Json(std::strtod(text.c_str(), nullptr));
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string error_;
};

}  // namespace

absl::StatusOr<Json> Json::Parse(std::string_view text) { return Parser(text).Document(); }

bool Json::boolean() const {
  KILN_CHECK(is_bool()) << "json: not a bool";
  return bool_;
}

double Json::number() const {
  KILN_CHECK(is_number()) << "json: not a number";
  return number_;
}

int64_t Json::integer() const {
  KILN_CHECK(is_integer()) << "json: not an integer";
  return integer_;
}

const std::string& Json::string() const {
  KILN_CHECK(is_string()) << "json: not a string";
  return string_;
}

const std::vector<Json>& Json::array() const {
  KILN_CHECK(is_array()) << "json: not an array";
  return array_;
}

const std::vector<std::pair<std::string, Json>>& Json::members() const {
  KILN_CHECK(is_object()) << "json: not an object";
  return members_;
}

const Json& Json::operator[](size_t i) const {
  KILN_CHECK(is_array() && i < array_.size()) << "json: index " << i << " out of range";
  return array_[i];
}

size_t Json::size() const {
  if (is_array()) return array_.size();
  if (is_object()) return members_.size();
  return 0;
}

const Json* Json::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

Json& Json::Push(Json value) {
  KILN_CHECK(is_array()) << "json: Push on a non-array";
  array_.push_back(std::move(value));
  return *this;
}

Json& Json::Set(std::string key, Json value) {
  KILN_CHECK(is_object()) << "json: Set on a non-object";
  for (auto& [k, v] : members_) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

void Json::DumpTo(std::string* out) const {
  switch (type_) {
    case Type::kNull:
      *out += "null";
      return;
    case Type::kBool:
      *out += bool_ ? "true" : "false";
      return;
    case Type::kNumber: {
      if (is_integer_) {
        absl::StrAppend(out, integer_);
      } else if (!std::isfinite(number_)) {
        *out += "null";
      } else {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), number_);
        KILN_CHECK(ec == std::errc());
        out->append(buf, end);
      }
      return;
    }
    case Type::kString:
      *out += JsonQuote(string_);
      return;
    case Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < array_.size(); ++i) {
        if (i > 0) out->push_back(',');
        array_[i].DumpTo(out);
      }
      out->push_back(']');
      return;
    case Type::kObject:
      out->push_back('{');
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out->push_back(',');
        *out += JsonQuote(members_[i].first);
        out->push_back(':');
        members_[i].second.DumpTo(out);
      }
      out->push_back('}');
      return;
  }
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(&out);
  return out;
}

}  // namespace kiln
