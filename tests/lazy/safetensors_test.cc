// lazy/safetensors: the exact bytes of a small file against the format, round trips of
// every dtype and of a model, and the errors for bad files and mismatched models.
#include "lazy/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "lazy/creation.h"
#include "lazy/generator.h"
#include "lazy/nn_mlp.h"
#include "lazy/ops.h"
#include "tests/lazy/op_test_util.h"

namespace kiln {
namespace {

using ::kiln::testing::ErrorOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A file in this process's scratch directory, which is removed when the process ends.
std::string TempPath(const std::string& name) {
  static const struct ScratchDir {
    ScratchDir()
        : path(std::filesystem::temp_directory_path() /
               ("kiln_safetensors_test_" + std::to_string(::getpid()))) {
      std::filesystem::create_directories(path);
    }
    ~ScratchDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
    std::filesystem::path path;
  } dir;
  return (dir.path / name).string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A file with header `json` (padded) and `data`.
std::string FileWithHeader(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(json.size());
  return out + json + data;
}

TEST(SafetensorsTest, ExactBytesOfATinyFile) {
  const TensorMap tensors = {
      {"a", Tensor::from_vector<int32_t>({1, -2}, {2})},
      {"m", Tensor::from_vector<bool>({true, false, true}, {3})},
      {"z", Tensor::from_vector<double>({0.5}, {1})},
  };
  const std::string bytes = SerializeSafetensors(tensors, {{"format", "pt"}});
  // Order as the reference writes it: 8-byte dtypes first (z), then I32 (a), then BOOL
  // (m); within a dtype by name. The header is 195 bytes of JSON plus 5 spaces = 200.
  const std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"z\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]},"
      "\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[16,19]}}"
      "     ";
  ASSERT_EQ(header.size(), 200u);
  std::string expected("\xC8\x00\x00\x00\x00\x00\x00\x00", 8);
  expected += header;
  expected += std::string("\x00\x00\x00\x00\x00\x00\xE0\x3F", 8);  // 0.5 as f64
  expected += std::string("\x01\x00\x00\x00\xFE\xFF\xFF\xFF", 8);  // 1, -2 as i32
  expected += std::string("\x01\x00\x01", 3);                      // true, false, true
  EXPECT_EQ(bytes, expected);
}

TEST(SafetensorsTest, EveryDtypeRoundTripsThroughAFile) {
  const std::string path = TempPath("all.safetensors");
  const TensorMap tensors = {
      {"f32", Tensor::from_vector<float>({1.5f, -2, 3.25f, 0, 5, 6}, {2, 3})},
      {"f64", Tensor::from_vector<double>({1e-300, 2}, {2})},
      {"i32", Tensor::from_vector<int32_t>({-7}, {})},
      {"i64", Tensor::from_vector<int64_t>({int64_t{1} << 40, -1}, {1, 2})},
      {"mask", Tensor::from_vector<bool>({true, false}, {2, 1})},
      {"empty", Tensor::from_vector<float>({}, {0, 4})},
      {"pending", Tensor::from_vector<float>({1, 2}, {2}) * 3.0},  // saved after one barrier
  };
  save_safetensors(path, tensors, {{"step", "7"}});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  SafetensorsMetadata metadata;
  const TensorMap back = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata, (SafetensorsMetadata{{"step", "7"}}));
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(back.contains(name)) << name;
    EXPECT_EQ(back.at(name).shape(), t.shape()) << name;
  }
  EXPECT_EQ(back.at("f32").to_vector<float>(), tensors.at("f32").to_vector<float>());
  EXPECT_EQ(back.at("f64").to_vector<double>(), tensors.at("f64").to_vector<double>());
  EXPECT_EQ(back.at("i32").to_vector<int32_t>(), std::vector<int32_t>{-7});
  EXPECT_EQ(back.at("i64").to_vector<int64_t>(), tensors.at("i64").to_vector<int64_t>());
  EXPECT_THAT(back.at("mask").to_vector<bool>(), ElementsAre(true, false));
  EXPECT_THAT(back.at("pending").to_vector<float>(), ElementsAre(3, 6));
  // The data starts 8-byte aligned.
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(SafetensorsTest, ModelRoundTripGivesIdenticalOutputs) {
  const std::string path = TempPath("mlp.safetensors");
  Generator gen(1), other(2);
  auto model = std::make_shared<nn::MLP>(4, 8, 3, gen);
  auto fresh = std::make_shared<nn::MLP>(4, 8, 3, other);
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f, 0.4f, 1, 2, -3, 0.5f}, {2, 4});
  const std::vector<float> expected = model->forward(x).to_vector<float>();
  ASSERT_NE(fresh->forward(x).to_vector<float>(), expected);
  save_checkpoint(path, *model, {{"note", "mlp"}});
  const TensorMap stored = load_safetensors(path);
  std::vector<std::string> names;
  for (const auto& [name, t] : stored) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"));
  SafetensorsMetadata metadata;
  load_checkpoint(path, *fresh, &metadata);
  EXPECT_EQ(metadata.at("note"), "mlp");
  EXPECT_EQ(fresh->forward(x).to_vector<float>(), expected);  // bit for bit
}

TEST(SafetensorsTest, ModelMismatchesAreReportedAndChangeNothing) {
  const std::string path = TempPath("mismatch.safetensors");
  Generator gen(3);
  auto small = std::make_shared<nn::MLP>(4, 8, 3, gen);
  auto wide = std::make_shared<nn::MLP>(4, 16, 3, gen);
  save_checkpoint(path, *small);
  const std::vector<float> before = wide->fc1()->weight().to_vector<float>();
  const std::string error = ErrorOf([&] { load_checkpoint(path, *wide); });
  EXPECT_THAT(error, HasSubstr(path + ": MLP::load_state_dict: mismatch for 'fc1.weight': the "
                                      "model has f32[16,4], the state dict has f32[8,4]"));
  EXPECT_THAT(error, HasSubstr("mismatch for 'fc1.bias'"));
  EXPECT_EQ(wide->fc1()->weight().to_vector<float>(), before);

  save_safetensors(path, {{"fc1.weight", small->fc1()->weight()}});
  EXPECT_THAT(ErrorOf([&] { load_checkpoint(path, *small); }),
              HasSubstr("missing keys 'fc1.bias', 'fc2.weight', 'fc2.bias'"));
  save_safetensors(path, {{"fc1.weight", Tensor::from_vector<double>(std::vector<double>(32), {8, 4})},
                          {"fc1.bias", small->fc1()->bias()},
                          {"fc2.weight", small->fc2()->weight()},
                          {"fc2.bias", small->fc2()->bias()}});
  EXPECT_THAT(ErrorOf([&] { load_checkpoint(path, *small); }),
              HasSubstr("mismatch for 'fc1.weight': the model has f32[8,4], the state dict has f64[8,4]"));
}

TEST(SafetensorsTest, BadFilesAreClearErrors) {
  const std::string path = TempPath("bad.safetensors");
  EXPECT_EQ(ErrorOf([&] { load_safetensors(TempPath("absent.safetensors")); }),
            TempPath("absent.safetensors") + ": cannot open for reading");
  WriteBytes(path, "abc");
  EXPECT_EQ(ErrorOf([&] { load_safetensors(path); }),
            path + ": file too short (3 bytes; the header length takes 8)");
  WriteBytes(path, std::string("\xff\x00\x00\x00\x00\x00\x00\x00{}", 10));
  EXPECT_EQ(ErrorOf([&] { load_safetensors(path); }),
            path + ": header length 255 exceeds the file (10 bytes): not a safetensors file or "
                   "truncated");
  const auto error_of = [](const std::string& json, const std::string& data) {
    return ErrorOf([&] { DeserializeSafetensors(FileWithHeader(json, data), nullptr, "f"); });
  };
  EXPECT_EQ(error_of("{\"a\":", ""), "f: bad header: json: unexpected end of input at offset 5");
  EXPECT_EQ(error_of("[]", ""), "f: bad header: not a JSON object");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", "xx"),
            "f: tensor 'a': unsupported dtype 'F16' (kiln reads F32, F64, I32, I64 and BOOL)");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "xxxx"),
            "f: tensor 'a': data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "xxxxxxxx"),
            "f: tensor 'a' starts at data offset 4, expected 0 (tensors must be back to back)");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "xxxxxxxx"),
            "f: the header describes 4 data bytes, the file holds 8");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F32","shape":[1]}})", ""),
            "f: tensor 'a': entry must have exactly dtype, shape and data_offsets");
  EXPECT_EQ(error_of(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", ""),
            "f: tensor 'a': shape holds a non-integer or negative size");
  EXPECT_EQ(error_of(R"({"__metadata__":{"k":1}})", ""), "f: __metadata__ 'k' is not a string");
  EXPECT_THAT(ErrorOf([] { SerializeSafetensors({{"u", Tensor()}}); }),
              HasSubstr("tensor 'u' is undefined"));
}

TEST(SafetensorsTest, ReadsTensorsInAnyOffsetOrder) {
  // Another writer may order the data differently from the header.
  const std::string json =
      R"({"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
      R"("a":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})";
  const std::string data("\x02\x00\x00\x00\x01\x00\x00\x00", 8);
  const TensorMap back = DeserializeSafetensors(FileWithHeader(json, data));
  EXPECT_EQ(back.at("a").to_vector<int32_t>(), std::vector<int32_t>{1});
  EXPECT_EQ(back.at("b").to_vector<int32_t>(), std::vector<int32_t>{2});
}

}  // namespace
}  // namespace kiln
