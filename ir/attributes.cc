#include "ir/attributes.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "util/check.h"

namespace kiln {

Attributes& Attributes::Set(std::string_view name, AttrValue value) {
  for (auto& [n, v] : entries_) {
    if (n == name) {
      v = std::move(value);
      return *this;
    }
  }
  entries_.emplace_back(std::string(name), std::move(value));
  return *this;
}

const AttrValue* Attributes::Find(std::string_view name) const {
  for (const auto& [n, v] : entries_) {
    if (n == name) return &v;
  }
  return nullptr;
}

namespace {
template <typename T>
const T& Get(const Attributes& attrs, std::string_view name) {
  const AttrValue* v = attrs.Find(name);
  KILN_CHECK(v != nullptr) << "missing attribute " << name;
  const T* typed = std::get_if<T>(v);
  KILN_CHECK(typed != nullptr) << "attribute " << name << " has another type";
  return *typed;
}
}  // namespace

int64_t Attributes::GetInt(std::string_view name) const { return Get<int64_t>(*this, name); }
double Attributes::GetDouble(std::string_view name) const { return Get<double>(*this, name); }
bool Attributes::GetBool(std::string_view name) const { return Get<bool>(*this, name); }
DType Attributes::GetDType(std::string_view name) const { return Get<DType>(*this, name); }
const std::vector<int64_t>& Attributes::GetInts(std::string_view name) const {
  return Get<std::vector<int64_t>>(*this, name);
}

void Attributes::AddToHash(HashBuilder& h) const {
  for (const auto& [name, value] : entries_) {
    h.AddString(name).Add(static_cast<uint64_t>(value.index()));
    std::visit(
        [&h](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, double>) {
            // Every NaN prints as "nan" and behaves alike, so all NaNs hash alike.
            h.AddDouble(std::isnan(v) ? std::numeric_limits<double>::quiet_NaN() : v);
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            h.Add(v.size());
            for (int64_t x : v) h.Add(static_cast<uint64_t>(x));
          } else {
            h.Add(static_cast<uint64_t>(v));
          }
        },
        value);
  }
}

std::string AttrValueToString(const AttrValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(v)) return "nan";
          if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
          std::string s = absl::StrFormat("%.17g", v);
          if (s.find_first_of(".e") == std::string::npos) s += ".0";
          return s;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, DType>) {
          return std::string(DTypeName(v));
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          return absl::StrCat("[", absl::StrJoin(v, ","), "]");
        } else {
          return absl::StrCat(v);
        }
      },
      value);
}

std::string Attributes::ToString() const {
  std::string out;
  for (const auto& [name, value] : entries_) {
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, name, "=", AttrValueToString(value));
  }
  return out;
}

}  // namespace kiln
