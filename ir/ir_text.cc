#include "ir/ir_text.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace kiln {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// "%3" or "%3.1" (output index 1).
std::string ValueRef(const absl::flat_hash_map<const Node*, int>& index, const Value& v) {
  std::string out = absl::StrCat("%", index.at(v.node.get()));
  if (v.index != 0) absl::StrAppend(&out, ".", v.index);
  return out;
}

// The node lines of `graph`, filling `index` with each node's number.
std::vector<std::string> NodeLines(const Graph& graph,
                                   absl::flat_hash_map<const Node*, int>& index) {
  std::vector<std::string> lines;
  for (const Node* node : graph.post_order()) {
    const int id = static_cast<int>(index.size());
    index[node] = id;
    std::string line =
        absl::StrCat("%", id, " = ", node->shape().ToString(), " ", OpName(node->op()), "(");
    for (int i = 0; i < node->num_operands(); ++i) {
      if (i > 0) line += ", ";
      line += ValueRef(index, node->operand(i));
    }
    line += ")";
    if (!node->attrs().empty()) absl::StrAppend(&line, " ", node->attrs().ToString());
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

std::vector<std::string> PrintNodeLines(const Graph& graph) {
  absl::flat_hash_map<const Node*, int> index;
  return NodeLines(graph, index);
}

std::string PrintGraph(const Graph& graph) {
  absl::flat_hash_map<const Node*, int> index;
  std::string out = "graph {\n";
  for (const std::string& line : NodeLines(graph, index)) absl::StrAppend(&out, "  ", line, "\n");
  out += "  return (";
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    if (i > 0) out += ", ";
    out += ValueRef(index, graph.outputs()[i]);
  }
  out += ")\n}\n";
  return out;
}

namespace {

// Trims surrounding whitespace and shortens quoted input, so a pathological line cannot
// make a huge error.
std::string Quote(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  constexpr size_t kMax = 40;
  if (s.size() > kMax) return absl::StrCat("'", Str(s.substr(0, kMax)), "...'");
  return absl::StrCat("'", Str(s), "'");
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over one line (comment already removed). Every method reports errors through
// Status; nothing recurses, so input size only costs time linearly.
class LineParser {
 public:
  LineParser(std::string_view line, int line_number) : line_(line), line_number_(line_number) {}

  template <typename... Args>
  absl::Status Error(const Args&... args) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_number_, ": ", args...));
  }

  void SkipSpace() {
    while (pos_ < line_.size() && std::isspace(static_cast<unsigned char>(line_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= line_.size();
  }
  // The rest of the line, for messages.
  std::string_view Rest() {
    SkipSpace();
    return line_.substr(pos_);
  }
  std::string Found() { return AtEnd() ? std::string("end of line") : Quote(Rest()); }

  bool TryConsume(char c) {
    SkipSpace();
    if (pos_ < line_.size() && line_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Expect(char c, std::string_view what) {
    if (TryConsume(c)) return absl::OkStatus();
    return Error("expected '", std::string(1, c), "' ", Str(what), ", found ", Found());
  }

  // An identifier, or empty when none starts here.
  std::string_view Ident() {
    SkipSpace();
    const size_t start = pos_;
    if (pos_ < line_.size() && IsIdentStart(line_[pos_])) {
      while (pos_ < line_.size() && IsIdentChar(line_[pos_])) ++pos_;
    }
    return line_.substr(start, pos_ - start);
  }

  // A number-like token: optional sign, then digits, letters, '.', and a sign after an
  // exponent marker. Classified by the caller.
  std::string_view NumberToken() {
    SkipSpace();
    const size_t start = pos_;
    if (pos_ < line_.size() && (line_[pos_] == '-' || line_[pos_] == '+')) ++pos_;
    while (pos_ < line_.size()) {
      const char c = line_[pos_];
      const bool exponent_sign = (c == '-' || c == '+') && pos_ > start &&
                                 (line_[pos_ - 1] == 'e' || line_[pos_ - 1] == 'E');
      if (!IsIdentChar(c) && c != '.' && !exponent_sign) break;
      ++pos_;
    }
    return line_.substr(start, pos_ - start);
  }

  absl::StatusOr<int64_t> Int(std::string_view what) {
    std::string_view token = NumberToken();
    if (token.empty()) return Error("expected ", Str(what), ", found ", Found());
    return ToInt(token, what);
  }

  absl::StatusOr<int64_t> ToInt(std::string_view token, std::string_view what) const {
    const size_t digits = token[0] == '-' ? 1 : 0;
    bool all_digits = token.size() > digits;
    for (size_t i = digits; i < token.size(); ++i) all_digits = all_digits && IsDigit(token[i]);
    int64_t value = 0;
    if (!all_digits) return Error("expected ", Str(what), ", found ", Quote(token));
    if (!absl::SimpleAtoi(absl::string_view(token.data(), token.size()), &value)) {
      return Error(Str(what), " ", Quote(token), " does not fit in 64 bits");
    }
    return value;
  }

  // "%N" or "%N.K": the definition number and the output index.
  absl::StatusOr<std::pair<int64_t, int64_t>> Ref() {
    RETURN_IF_ERROR(Expect('%', "before a value number"));
    if (pos_ >= line_.size() || !IsDigit(line_[pos_])) {
      return Error("expected a value number after '%', found ", Found());
    }
    const size_t start = pos_;
    while (pos_ < line_.size() && IsDigit(line_[pos_])) ++pos_;
    ASSIGN_OR_RETURN(int64_t id, ToInt(line_.substr(start, pos_ - start), "a value number"));
    int64_t output = 0;
    if (pos_ < line_.size() && line_[pos_] == '.') {
      ++pos_;
      const size_t out_start = pos_;
      while (pos_ < line_.size() && IsDigit(line_[pos_])) ++pos_;
      if (pos_ == out_start) return Error("expected an output index after '%", id, ".'");
      ASSIGN_OR_RETURN(output, ToInt(line_.substr(out_start, pos_ - out_start), "an output index"));
    }
    return std::make_pair(id, output);
  }

  // "f32[2,3]", "bool[]".
  absl::StatusOr<Shape> ParseShape() {
    std::string_view name = Ident();
    if (name.empty()) return Error("expected a dtype such as f32, found ", Found());
    std::optional<DType> dtype = ParseDType(name);
    if (!dtype) return Error("unknown dtype ", Quote(name));
    RETURN_IF_ERROR(Expect('[', "to open the sizes of the shape"));
    Sizes sizes;
    if (!TryConsume(']')) {
      while (true) {
        ASSIGN_OR_RETURN(int64_t size, Int("a dimension size"));
        if (size < 0) return Error("negative dimension size ", size, " in shape");
        sizes.push_back(size);
        if (TryConsume(']')) break;
        RETURN_IF_ERROR(Expect(',', "or ']' in the sizes of the shape"));
      }
    }
    Shape shape(*dtype, sizes);
    // Bounds numel() and byte_size() for every later user of the shape.
    if (!CheckedProduct(sizes, DTypeSize(*dtype))) {
      return Error("shape ", shape.ToString(), " has more bytes than int64 can count");
    }
    return shape;
  }

  // An attribute value: integer, float (has '.', an exponent, inf or nan), bool, dtype
  // or integer list.
  absl::StatusOr<AttrValue> ParseAttrValue(std::string_view name) {
    SkipSpace();
    if (TryConsume('[')) {
      std::vector<int64_t> list;
      if (TryConsume(']')) return AttrValue(std::move(list));
      while (true) {
        ASSIGN_OR_RETURN(int64_t v, Int("an integer in the list"));
        list.push_back(v);
        if (TryConsume(']')) break;
        RETURN_IF_ERROR(Expect(',', "or ']' in the list"));
      }
      return AttrValue(std::move(list));
    }
    if (pos_ < line_.size() && IsIdentStart(line_[pos_])) {
      std::string_view word = Ident();
      if (word == "true") return AttrValue(true);
      if (word == "false") return AttrValue(false);
      if (word == "inf") return AttrValue(std::numeric_limits<double>::infinity());
      if (word == "nan") return AttrValue(std::numeric_limits<double>::quiet_NaN());
      if (std::optional<DType> d = ParseDType(word)) return AttrValue(*d);
      return Error("attribute '", Str(name), "': unknown value ", Quote(word));
    }
    std::string_view token = NumberToken();
    if (token.empty()) {
      return Error("attribute '", Str(name), "': expected a value, found ", Found());
    }
    if (token == "-inf") return AttrValue(-std::numeric_limits<double>::infinity());
    if (token.find_first_of(".eE") == std::string_view::npos) {
      ASSIGN_OR_RETURN(int64_t v, ToInt(token, absl::StrCat("attribute '", Str(name), "' value")));
      return AttrValue(v);
    }
    // strtod accepts more than PrintGraph writes (hex, "infinity"); the token alphabet
    // already excludes those, so only decimal floats reach it.
    for (char c : token) {
      if (!IsDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
        return Error("attribute '", Str(name), "': bad number ", Quote(token));
      }
    }
    const std::string copy(token);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || copy == "." ||
        copy.find_first_of("0123456789") == std::string::npos) {
      return Error("attribute '", Str(name), "': bad number ", Quote(token));
    }
    // Out-of-range literals saturate to inf or 0, as C++ parsing does.
    return AttrValue(v);
  }

 private:
  std::string_view line_;
  int line_number_;
  size_t pos_ = 0;
};

// The lines of `text` with `#` comments removed.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Definitions by number. Released last-defined first, so dropping a long chain after a
// failed parse unwinds one node at a time instead of recursively.
class Definitions {
 public:
  ~Definitions() {
    while (!order_.empty()) {
      by_id_.erase(order_.back());
      order_.pop_back();
    }
  }
  bool Contains(int64_t id) const { return by_id_.contains(id); }
  const NodePtr* Find(int64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second;
  }
  void Add(int64_t id, NodePtr node) {
    by_id_.emplace(id, std::move(node));
    order_.push_back(id);
  }

 private:
  absl::flat_hash_map<int64_t, NodePtr> by_id_;
  std::vector<int64_t> order_;
};

absl::StatusOr<Value> Resolve(LineParser& p, const Definitions& defs,
                              std::pair<int64_t, int64_t> ref) {
  const NodePtr* node = defs.Find(ref.first);
  if (node == nullptr) {
    return p.Error("%", ref.first, " is not defined before its use");
  }
  if (ref.second >= (*node)->num_outputs()) {
    return p.Error("%", ref.first, " has ", (*node)->num_outputs(), " output(s), no output ",
                   ref.second);
  }
  return Value{*node, static_cast<int>(ref.second)};
}

// "%N = shape op(operands) attrs".
absl::Status ParseNodeLine(LineParser& p, Definitions& defs) {
  ASSIGN_OR_RETURN(auto def, p.Ref());
  if (def.second != 0) return p.Error("a definition cannot name an output index");
  const int64_t id = def.first;
  if (defs.Contains(id)) return p.Error("%", id, " is defined twice");
  RETURN_IF_ERROR(p.Expect('=', absl::StrCat("after %", id)));
  ASSIGN_OR_RETURN(Shape shape, p.ParseShape());
  std::string_view op_name = p.Ident();
  if (op_name.empty()) return p.Error("expected an op name after the shape, found ", p.Found());
  std::optional<OpKind> op = ParseOpKind(op_name);
  if (!op) return p.Error("unknown op ", Quote(op_name));
  RETURN_IF_ERROR(p.Expect('(', absl::StrCat("after ", Str(op_name))));
  Operands operands;
  if (!p.TryConsume(')')) {
    while (true) {
      ASSIGN_OR_RETURN(auto ref, p.Ref());
      ASSIGN_OR_RETURN(Value v, Resolve(p, defs, ref));
      operands.push_back(std::move(v));
      if (p.TryConsume(')')) break;
      RETURN_IF_ERROR(p.Expect(',', "or ')' between operands"));
    }
  }
  Attributes attrs;
  while (!p.AtEnd()) {
    std::string_view name = p.Ident();
    if (name.empty()) return p.Error("expected an attribute name=value, found ", p.Found());
    if (attrs.Has(name)) return p.Error("attribute '", Str(name), "' given twice");
    RETURN_IF_ERROR(p.Expect('=', absl::StrCat("after attribute '", Str(name), "'")));
    ASSIGN_OR_RETURN(AttrValue value, p.ParseAttrValue(name));
    attrs.Set(name, std::move(value));
  }

  NodePtr node;
  if (IsParameter(*op)) {
    if (!operands.empty()) {
      return p.Error(Str(op_name), ": expected 0 operands, got ", operands.size());
    }
    if (!attrs.empty()) {
      return p.Error(Str(op_name), ": takes no attributes, got ", attrs.ToString());
    }
    if (*op == OpKind::kScalar) {
      if (shape.rank() != 0) {
        return p.Error("scalar: printed shape ", shape.ToString(), " but a scalar is 0-d");
      }
      node = Node::CreateScalar(shape.dtype(), 0);
    } else {
      node = Node::CreateDeviceData(shape, nullptr);
    }
  } else {
    absl::StatusOr<NodePtr> created = Node::Create(*op, std::move(operands), std::move(attrs));
    if (!created.ok()) return p.Error(created.status().message());
    node = *std::move(created);
    if (!(node->shape() == shape)) {
      return p.Error(Str(op_name), ": printed shape ", shape.ToString(), " but inferred ",
                     node->shape().ToString());
    }
  }
  defs.Add(id, std::move(node));
  return absl::OkStatus();
}

// "return (%a, %b)".
absl::StatusOr<std::vector<Value>> ParseReturnLine(LineParser& p, const Definitions& defs) {
  std::vector<Value> outputs;
  RETURN_IF_ERROR(p.Expect('(', "after return"));
  if (!p.TryConsume(')')) {
    while (true) {
      ASSIGN_OR_RETURN(auto ref, p.Ref());
      ASSIGN_OR_RETURN(Value v, Resolve(p, defs, ref));
      outputs.push_back(std::move(v));
      if (p.TryConsume(')')) break;
      RETURN_IF_ERROR(p.Expect(',', "or ')' between returned values"));
    }
  }
  if (!p.AtEnd()) return p.Error("unexpected text after return (...): ", p.Found());
  return outputs;
}

}  // namespace

absl::StatusOr<Graph> ParseGraph(std::string_view text) {
  const std::vector<std::string_view> lines = SplitLines(text);
  enum class State { kHeader, kBody, kClose, kDone } state = State::kHeader;
  Definitions defs;
  std::vector<Value> outputs;
  int last_line = 1;
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line_number =
        static_cast<int>(std::min<size_t>(i + 1, std::numeric_limits<int>::max()));
    if (IsBlank(lines[i])) continue;
    last_line = line_number;
    LineParser p(lines[i], line_number);
    switch (state) {
      case State::kHeader: {
        if (p.Ident() != "graph" || !p.TryConsume('{') || !p.AtEnd()) {
          return p.Error("expected 'graph {', found ", Quote(lines[i]));
        }
        state = State::kBody;
        break;
      }
      case State::kBody: {
        if (p.TryConsume('}')) return p.Error("missing 'return (...)' before '}'");
        p.SkipSpace();
        if (p.Rest().substr(0, 1) == "%") {
          RETURN_IF_ERROR(ParseNodeLine(p, defs));
          break;
        }
        std::string_view word = p.Ident();
        if (word != "return") {
          return p.Error("expected '%N = ...' or 'return (...)', found ", Quote(lines[i]));
        }
        ASSIGN_OR_RETURN(outputs, ParseReturnLine(p, defs));
        state = State::kClose;
        break;
      }
      case State::kClose: {
        if (!p.TryConsume('}') || !p.AtEnd()) {
          return p.Error("expected '}' after return, found ", Quote(lines[i]));
        }
        state = State::kDone;
        break;
      }
      case State::kDone:
        return p.Error("unexpected text after the closing '}': ", Quote(lines[i]));
    }
  }
  switch (state) {
    case State::kHeader:
      return absl::InvalidArgumentError("line 1: expected 'graph {', found end of text");
    case State::kBody:
      return absl::InvalidArgumentError(
          absl::StrCat("line ", last_line, ": missing 'return (...)' at end of text"));
    case State::kClose:
      return absl::InvalidArgumentError(
          absl::StrCat("line ", last_line, ": missing closing '}' at end of text"));
    case State::kDone:
      break;
  }
  return Graph::Build(std::move(outputs));
}

}  // namespace kiln
