#include "lazy/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lazy/graph_executor.h"
#include "util/error.h"
#include "util/json.h"

namespace kiln {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; kiln copies host memory as is");

// The reference refuses headers past 100 MB: a corrupt length must not allocate wildly.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* SafetensorsDType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kBool:
      return "BOOL";
    default:
      return nullptr;
  }
}

std::optional<DType> ParseSafetensorsDType(std::string_view name) {
  for (DType d : {DType::kF32, DType::kF64, DType::kI32, DType::kI64, DType::kBool}) {
    if (name == SafetensorsDType(d)) return d;
  }
  return std::nullopt;
}

// The reference's order of dtypes (its enum order); a larger rank is written first.
int AlignmentRank(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return 0;
    case DType::kI32:
      return 1;
    case DType::kF32:
      return 2;
    case DType::kF64:
      return 3;
    case DType::kI64:
      return 4;
    default:
      return -1;
  }
}

// The elements of `t` (materialised), as raw little-endian bytes.
std::string RawBytes(const Tensor& t) {
  std::string out;
  const auto append = [&out](const auto& values) {
    const char* begin = reinterpret_cast<const char*>(values.data());
    out.append(begin, values.size() * sizeof(values[0]));
  };
  switch (t.dtype()) {
    case DType::kF32:
      append(t.to_vector<float>());
      break;
    case DType::kF64:
      append(t.to_vector<double>());
      break;
    case DType::kI32:
      append(t.to_vector<int32_t>());
      break;
    case DType::kI64:
      append(t.to_vector<int64_t>());
      break;
    case DType::kBool:
      for (bool b : t.to_vector<bool>()) out.push_back(b ? 1 : 0);
      break;
    default:
      break;
  }
  return out;
}

template <typename T>
Tensor FromBytes(std::string_view bytes, std::vector<int64_t> shape) {
  std::vector<T> values(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return Tensor::from_vector<T>(values, std::move(shape));
}

Tensor TensorFromBytes(DType dtype, std::string_view bytes, std::vector<int64_t> shape) {
  switch (dtype) {
    case DType::kF32:
      return FromBytes<float>(bytes, std::move(shape));
    case DType::kF64:
      return FromBytes<double>(bytes, std::move(shape));
    case DType::kI32:
      return FromBytes<int32_t>(bytes, std::move(shape));
    case DType::kI64:
      return FromBytes<int64_t>(bytes, std::move(shape));
    default: {
      std::vector<bool> values(bytes.size());
      for (size_t i = 0; i < bytes.size(); ++i) values[i] = bytes[i] != 0;
      return Tensor::from_vector<bool>(values, std::move(shape));
    }
  }
}

// One header entry, parsed and checked against its own fields.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

[[noreturn]] void Fail(const std::string& what, const std::string& message) {
  throw Error(absl::StrCat(what, ": ", message));
}

Entry ParseEntry(const std::string& what, const std::string& name, const Json& info) {
  Entry e;
  e.name = name;
  if (!info.is_object()) Fail(what, absl::StrCat("tensor '", name, "': entry is not an object"));
  const Json* dtype = info.Find("dtype");
  const Json* shape = info.Find("shape");
  const Json* offsets = info.Find("data_offsets");
  if (dtype == nullptr || shape == nullptr || offsets == nullptr || info.size() != 3) {
    Fail(what, absl::StrCat("tensor '", name,
                            "': entry must have exactly dtype, shape and data_offsets"));
  }
  if (!dtype->is_string()) Fail(what, absl::StrCat("tensor '", name, "': dtype is not a string"));
  const std::optional<DType> parsed = ParseSafetensorsDType(dtype->string());
  if (!parsed) {
    Fail(what, absl::StrCat("tensor '", name, "': unsupported dtype '", dtype->string(),
                            "' (kiln reads F32, F64, I32, I64 and BOOL)"));
  }
  e.dtype = *parsed;
  if (!shape->is_array()) Fail(what, absl::StrCat("tensor '", name, "': shape is not an array"));
  uint64_t numel = 1;
  for (const Json& d : shape->array()) {
    if (!d.is_integer() || d.integer() < 0) {
      Fail(what, absl::StrCat("tensor '", name, "': shape holds a non-integer or negative size"));
    }
    e.shape.push_back(d.integer());
    numel *= static_cast<uint64_t>(d.integer());
  }
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_integer() ||
      !(*offsets)[1].is_integer() || (*offsets)[0].integer() < 0 ||
      (*offsets)[1].integer() < (*offsets)[0].integer()) {
    Fail(what, absl::StrCat("tensor '", name, "': data_offsets must be [begin, end], 0 <= begin <= end"));
  }
  e.begin = static_cast<uint64_t>((*offsets)[0].integer());
  e.end = static_cast<uint64_t>((*offsets)[1].integer());
  const uint64_t expected = numel * static_cast<uint64_t>(DTypeSize(e.dtype));
  if (e.end - e.begin != expected) {
    Fail(what, absl::StrCat("tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
                            "] hold ", e.end - e.begin, " bytes, but ", dtype->string(), " [",
                            absl::StrJoin(e.shape, ", "), "] needs ", expected));
  }
  return e;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(absl::StrCat(path, ": cannot open for reading"));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(absl::StrCat(path, ": read error"));
  return bytes;
}

}  // namespace

std::string SerializeSafetensors(const TensorMap& tensors, const SafetensorsMetadata& metadata) {
  std::vector<std::pair<std::string, Tensor>> order;
  std::vector<Tensor> all;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw Error(absl::StrCat("safetensors: tensor '", name, "' is undefined"));
    if (SafetensorsDType(tensor.dtype()) == nullptr) {
      throw Error(absl::StrCat("safetensors: tensor '", name, "' has dtype ",
                               DTypeName(tensor.dtype()),
                               "; kiln writes f32, f64, i32, i64 and bool"));
    }
    order.emplace_back(name, tensor);
    all.push_back(tensor);
  }
  // One barrier for every pending tensor rather than one per to_vector.
  SyncTensors(all, /*implicit=*/false, CallSite());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    const int ra = AlignmentRank(a.second.dtype());
    const int rb = AlignmentRank(b.second.dtype());
    return ra != rb ? ra > rb : a.first < b.first;
  });

  Json header = Json::Object();
  if (!metadata.empty()) {
    Json meta = Json::Object();
    for (const auto& [k, v] : metadata) meta.Set(k, Json(v));
    header.Set("__metadata__", std::move(meta));
  }
  std::string data;
  for (const auto& [name, tensor] : order) {
    if (name == "__metadata__") throw Error("safetensors: '__metadata__' cannot name a tensor");
    const uint64_t begin = data.size();
    data += RawBytes(tensor);
    Json shape = Json::Array();
    for (int64_t s : tensor.sizes()) shape.Push(Json(s));
    Json offsets = Json::Array();
    offsets.Push(Json(static_cast<int64_t>(begin)));
    offsets.Push(Json(static_cast<int64_t>(data.size())));
    Json info = Json::Object();
    info.Set("dtype", Json(SafetensorsDType(tensor.dtype())));
    info.Set("shape", std::move(shape));
    info.Set("data_offsets", std::move(offsets));
    header.Set(name, std::move(info));
  }
  std::string text = header.Dump();
  // Spaces up to a multiple of 8, so the data starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out += text;
  out += data;
  return out;
}

TensorMap DeserializeSafetensors(std::string_view bytes, SafetensorsMetadata* metadata,
                                 const std::string& what) {
  if (bytes.size() < 8) {
    Fail(what, absl::StrCat("file too short (", bytes.size(), " bytes; the header length takes 8)"));
  }
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > kMaxHeaderBytes || n > bytes.size() - 8) {
    Fail(what, absl::StrCat("header length ", n, " exceeds the file (", bytes.size(),
                            " bytes): not a safetensors file or truncated"));
  }
  absl::StatusOr<Json> header = Json::Parse(bytes.substr(8, n));
  if (!header.ok()) Fail(what, absl::StrCat("bad header: ", header.status().message()));
  if (!header->is_object()) Fail(what, "bad header: not a JSON object");
  const std::string_view data = bytes.substr(8 + n);

  std::vector<Entry> entries;
  for (const auto& [name, info] : header->members()) {
    if (name == "__metadata__") {
      if (!info.is_object()) Fail(what, "__metadata__ is not an object");
      for (const auto& [k, v] : info.members()) {
        if (!v.is_string()) Fail(what, absl::StrCat("__metadata__ '", k, "' is not a string"));
        if (metadata != nullptr) (*metadata)[k] = v.string();
      }
      continue;
    }
    entries.push_back(ParseEntry(what, name, info));
  }
  // Back to back, in offset order, covering the data exactly (the reference's check).
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  for (const Entry* e : by_offset) {
    if (e->begin != at) {
      Fail(what, absl::StrCat("tensor '", e->name, "' starts at data offset ", e->begin,
                              ", expected ", at, " (tensors must be back to back)"));
    }
    at = e->end;
  }
  if (at != data.size()) {
    Fail(what, absl::StrCat("the header describes ", at, " data bytes, the file holds ",
                            data.size()));
  }
  TensorMap out;
  for (const Entry& e : entries) {
    out.emplace(e.name, TensorFromBytes(e.dtype, data.substr(e.begin, e.end - e.begin), e.shape));
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const SafetensorsMetadata& metadata) {
  std::string bytes;
  try {
    bytes = SerializeSafetensors(tensors, metadata);
  } catch (const Error& e) {
    throw Error(absl::StrCat(path, ": ", e.what()));
  }
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(absl::StrCat(path, ": cannot open ", temporary, " for writing"));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temporary.c_str());
      throw Error(absl::StrCat(path, ": write error"));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw Error(absl::StrCat(path, ": cannot rename ", temporary, ": ", ec.message()));
  }
}

TensorMap load_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
  const std::string bytes = ReadFile(path);
  return DeserializeSafetensors(bytes, metadata, path);
}

namespace {

// Loads the file at `path` into a module or an optimizer, naming the file in errors.
template <typename Target>
void LoadStateInto(const std::string& path, Target& target, SafetensorsMetadata* metadata) {
  SafetensorsMetadata read_metadata;
  const TensorMap tensors = load_safetensors(path, &read_metadata);
  try {
    target.load_state_dict(tensors);
  } catch (const Error& e) {
    throw Error(absl::StrCat(path, ": ", e.what()));
  }
  if (metadata != nullptr) *metadata = std::move(read_metadata);
}

// Key prefixes of a training state file.
constexpr char kOptimizerPrefix[] = "optimizer.";
constexpr char kRngPrefix[] = "rng.";

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model,
                     const SafetensorsMetadata& metadata) {
  save_safetensors(path, model.state_dict(), metadata);
}

void load_checkpoint(const std::string& path, nn::Module& model, SafetensorsMetadata* metadata) {
  LoadStateInto(path, model, metadata);
}

void save_checkpoint(const std::string& path, const optim::Optimizer& optimizer,
                     const SafetensorsMetadata& metadata) {
  save_safetensors(path, optimizer.state_dict(), metadata);
}

void load_checkpoint(const std::string& path, optim::Optimizer& optimizer,
                     SafetensorsMetadata* metadata) {
  LoadStateInto(path, optimizer, metadata);
}

void save_training_state(const std::string& path, const nn::Module& model,
                         const optim::Optimizer& optimizer, const SafetensorsMetadata& metadata) {
  TensorMap tensors;
  for (const auto& [name, tensor] : optimizer.state_dict()) {
    tensors.emplace(absl::StrCat(kOptimizerPrefix, name), tensor);
  }
  for (const auto& [name, tensor] : model.rng_state()) {
    tensors.emplace(absl::StrCat(kRngPrefix, name), tensor);
  }
  save_safetensors(path, tensors, metadata);
}

void load_training_state(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                         SafetensorsMetadata* metadata) {
  SafetensorsMetadata read_metadata;
  const TensorMap tensors = load_safetensors(path, &read_metadata);
  StateDict optimizer_state;
  StateDict rng_state;
  for (const auto& [name, tensor] : tensors) {
    if (absl::StartsWith(name, kOptimizerPrefix)) {
      optimizer_state.emplace(name.substr(sizeof(kOptimizerPrefix) - 1), tensor);
    } else if (absl::StartsWith(name, kRngPrefix)) {
      rng_state.emplace(name.substr(sizeof(kRngPrefix) - 1), tensor);
    } else {
      throw Error(absl::StrCat(path, ": unexpected key '", name,
                               "' in a training state (keys are '", kOptimizerPrefix, "...' and '",
                               kRngPrefix, "...')"));
    }
  }
  const StateDict rng_before = model.rng_state();
  try {
    model.load_rng_state(rng_state);
    try {
      optimizer.load_state_dict(optimizer_state);
    } catch (const Error&) {
      model.load_rng_state(rng_before);  // a failed load changes nothing
      throw;
    }
  } catch (const Error& e) {
    throw Error(absl::StrCat(path, ": ", e.what()));
  }
  if (metadata != nullptr) *metadata = std::move(read_metadata);
}

}  // namespace kiln
