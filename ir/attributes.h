#pragma once
// Named, typed attributes of a node: `dims=[1] keepdim=true`, `dtype=f64`, `value=0.5`.
// Each op kind has a fixed attribute schema (documented in ir/op_kind.h); the order in
// which they are set is the order in which they print and hash.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ir/dtype.h"
#include "util/hash.h"

namespace kiln {

using AttrValue = std::variant<int64_t, double, bool, DType, std::vector<int64_t>>;

class Attributes {
 public:
  Attributes() = default;

  // Adds or replaces `name`; returns *this for chaining.
  Attributes& Set(std::string_view name, AttrValue value);

  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // Typed getters. The schema is fixed per op, so asking for a missing attribute or the
  // wrong type is a bug in kiln (KILN_CHECK), except in the parser, which validates first.
  int64_t GetInt(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  DType GetDType(std::string_view name) const;
  const std::vector<int64_t>& GetInts(std::string_view name) const;
  // nullptr when absent.
  const AttrValue* Find(std::string_view name) const;

  const std::vector<std::pair<std::string, AttrValue>>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  void AddToHash(HashBuilder& h) const;
  // "dims=[1] keepdim=true"; empty when there are none. Doubles always print with a
  // '.', an exponent, inf or nan, so the parser can tell them from integers.
  std::string ToString() const;

  friend bool operator==(const Attributes&, const Attributes&) = default;

 private:
  std::vector<std::pair<std::string, AttrValue>> entries_;
};

std::string AttrValueToString(const AttrValue& value);

}  // namespace kiln
