// Every op on the cpu backend, on the cuda backend's emulated device (the generated CUDA
// source, compiled by NVRTC as a check and run on the CPU) and, where a GPU is, on cuda,
// against the interp reference: fresh random inputs, outputs poisoned before the run (so
// an unwritten element shows as NaN or -1), a per-op tolerance for floats and exact
// equality for integers and bool.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "lazy/generator.h"
#include "util/check.h"
#include "util/config.h"

namespace kiln {
namespace {

// Builds an IR graph over parameters with random host data, then runs it on a backend.
class Builder {
 public:
  explicit Builder(uint64_t seed) : gen_(seed) {}

  // Random values: floats normal, integers in [-9, 9] without 0, bool 50/50.
  Value Param(DType dtype, std::vector<int64_t> sizes) {
    const Shape shape(dtype, sizes);
    std::vector<uint8_t> bytes(shape.byte_size());
    for (int64_t i = 0; i < shape.numel(); ++i) {
      const double r = gen_.NextNormal();
      int64_t iv = static_cast<int64_t>(gen_.NextBelow(18)) - 9;
      if (iv >= 0) ++iv;
      Write(dtype, bytes.data(), i, IsFloating(dtype) ? r : static_cast<double>(iv),
            dtype == DType::kBool ? gen_.NextBelow(2) : 0);
    }
    return Add(shape, std::move(bytes));
  }
  // Integers uniform in [0, bound).
  Value Index(DType dtype, std::vector<int64_t> sizes, int64_t bound) {
    const Shape shape(dtype, sizes);
    std::vector<uint8_t> bytes(shape.byte_size());
    for (int64_t i = 0; i < shape.numel(); ++i) {
      Write(dtype, bytes.data(), i, static_cast<double>(gen_.NextBelow(bound)), 0);
    }
    return Add(shape, std::move(bytes));
  }
  // Floats uniform in [lo, hi).
  Value Uniform(DType dtype, std::vector<int64_t> sizes, double lo, double hi) {
    const Shape shape(dtype, sizes);
    std::vector<uint8_t> bytes(shape.byte_size());
    for (int64_t i = 0; i < shape.numel(); ++i) {
      Write(dtype, bytes.data(), i, lo + (hi - lo) * gen_.NextDouble(), 0);
    }
    return Add(shape, std::move(bytes));
  }
  Value ScalarParam(DType dtype, double value) {
    NodePtr n = Node::CreateScalar(dtype, value);
    return Value{n, 0};
  }

  // Runs the graph of `outputs` on `backend`; host bytes of every output.
  std::vector<std::vector<uint8_t>> Run(const std::string& backend_name,
                                        const std::vector<Value>& outputs, std::string* error) {
    Backend& backend = *GetBackend(backend_name).value();
    const Graph graph = Graph::Build(outputs);
    std::vector<BufferPtr> keep;
    std::vector<Argument> args;
    for (const Node* p : graph.parameters()) {
      if (p->op() == OpKind::kScalar) {
        args.push_back({nullptr, p->scalar_value()});
        continue;
      }
      const auto& bytes = host_.at(p);
      keep.push_back(backend.CopyIn(p->shape(), bytes.data()).value());
      args.push_back({keep.back().get(), 0});
    }
    auto exe = backend.Compile(graph);
    if (!exe.ok()) {
      *error = std::string(exe.status().message());
      return {};
    }
    auto result = (*exe)->Run(args);
    if (!result.ok()) {
      *error = std::string(result.status().message());
      return {};
    }
    std::vector<std::vector<uint8_t>> out;
    for (const BufferPtr& b : *result) {
      std::vector<uint8_t> bytes(b->shape().byte_size());
      EXPECT_TRUE(backend.CopyOut(*b, bytes.data()).ok());
      out.push_back(std::move(bytes));
    }
    return out;
  }

 private:
  static void Write(DType dtype, uint8_t* p, int64_t i, double v, uint64_t bit) {
    switch (dtype) {
      case DType::kBool:
        p[i] = static_cast<uint8_t>(bit);
        break;
      case DType::kI32: {
        const int32_t x = static_cast<int32_t>(v);
        std::memcpy(p + 4 * i, &x, 4);
        break;
      }
      case DType::kI64: {
        const int64_t x = static_cast<int64_t>(v);
        std::memcpy(p + 8 * i, &x, 8);
        break;
      }
      case DType::kF64:
        std::memcpy(p + 8 * i, &v, 8);
        break;
      default: {
        const float x = static_cast<float>(v);
        std::memcpy(p + 4 * i, &x, 4);
      }
    }
  }
  Value Add(const Shape& shape, std::vector<uint8_t> bytes) {
    NodePtr n = Node::CreateDeviceData(shape, nullptr);
    host_[n.get()] = std::move(bytes);
    return Value{n, 0};
  }

  Generator gen_;
  std::map<const Node*, std::vector<uint8_t>> host_;
};

Value Op(OpKind op, std::vector<Value> operands, Attributes attrs = {}) {
  auto node = Node::Create(op, Operands(operands.begin(), operands.end()), std::move(attrs));
  KILN_CHECK(node.ok()) << node.status();
  return Value{*node, 0};
}
Attributes Dims(std::vector<int64_t> dims, bool keepdim) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", keepdim);
}
Attributes Dim(int64_t dim) { return Attributes().Set("dim", dim); }
Attributes DTypeAttr(DType d) { return Attributes().Set("dtype", d); }

double Element(DType dtype, const uint8_t* p, int64_t i) {
  switch (dtype) {
    case DType::kBool:
      return p[i];
    case DType::kI32: {
      int32_t x;
      std::memcpy(&x, p + 4 * i, 4);
      return x;
    }
    case DType::kI64: {
      int64_t x;
      std::memcpy(&x, p + 8 * i, 8);
      return static_cast<double>(x);
    }
    case DType::kF64: {
      double x;
      std::memcpy(&x, p + 8 * i, 8);
      return x;
    }
    default: {
      float x;
      std::memcpy(&x, p + 4 * i, 4);
      return x;
    }
  }
}

// Every op on a backend under test (the test's parameter) against interp.
class BackendParityTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const absl::StatusOr<Backend*> backend = GetBackend(GetParam());
    if (!backend.ok()) GTEST_SKIP() << backend.status().message();
    cpu::SetPoisonAllocationsForTesting(true);
  }
  void TearDown() override { cpu::SetPoisonAllocationsForTesting(false); }

  // Compares every output element; `tol` is relative to max(1, |reference|).
  void ExpectParity(Builder& b, const std::vector<Value>& outputs, double tol,
                    const std::string& name) {
    std::string interp_error, error;
    const auto want = b.Run("interp", outputs, &interp_error);
    const auto got = b.Run(GetParam(), outputs, &error);
    ASSERT_EQ(error, interp_error) << name;
    if (!interp_error.empty()) return;
    ASSERT_EQ(want.size(), got.size()) << name;
    for (size_t o = 0; o < outputs.size(); ++o) {
      const Shape& shape = outputs[o].shape();
      int bad = 0;
      for (int64_t i = 0; i < shape.numel() && bad < 5; ++i) {
        const double w = Element(shape.dtype(), want[o].data(), i);
        const double g = Element(shape.dtype(), got[o].data(), i);
        const bool ok =
            IsFloating(shape.dtype())
                ? (std::isnan(w) ? std::isnan(g)
                                 : std::fabs(w - g) <= tol * std::max(1.0, std::fabs(w)))
                : w == g;
        if (!ok) {
          ++bad;
          ADD_FAILURE() << name << ": output " << o << " " << shape.ToString() << " element "
                        << i << ": " << GetParam() << " " << g << " vs interp " << w;
        }
      }
    }
  }
};

// cuda runs where a GPU is; elsewhere its tests are skipped, saying why.
INSTANTIATE_TEST_SUITE_P(Backends, BackendParityTest,
                         ::testing::Values("cpu", "cuda_emulated", "cuda"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

constexpr double kTol = 2e-5;  // f32 elementwise
constexpr DType kNumeric[] = {DType::kI32, DType::kI64, DType::kF32, DType::kF64};

TEST_P(BackendParityTest, UnaryOps) {
  Builder b(1);
  for (DType dt : kNumeric) {
    for (OpKind op : {OpKind::kNeg, OpKind::kAbs, OpKind::kRelu}) {
      ExpectParity(b, {Op(op, {b.Param(dt, {3, 17})})}, kTol, OpName(op));
    }
  }
  for (DType dt : {DType::kF32, DType::kF64}) {
    for (OpKind op : {OpKind::kExp, OpKind::kTanh, OpKind::kErf, OpKind::kSigmoid, OpKind::kSin,
                      OpKind::kCos}) {
      ExpectParity(b, {Op(op, {b.Param(dt, {5, 33})})}, kTol, OpName(op));
    }
    for (OpKind op : {OpKind::kLog, OpKind::kSqrt, OpKind::kRsqrt}) {
      ExpectParity(b, {Op(op, {b.Uniform(dt, {4, 9}, 0.01, 10)})}, kTol, OpName(op));
      ExpectParity(b, {Op(op, {b.Param(dt, {4, 9})})}, kTol, "negative inputs give NaN");
    }
  }
  ExpectParity(b, {Op(OpKind::kLogicalNot, {b.Param(DType::kBool, {7, 3})})}, 0, "logical_not");
}

TEST_P(BackendParityTest, RoundingOps) {
  Builder b(24);
  for (DType dt : {DType::kF32, DType::kF64}) {
    // Multiples of 0.5 as well, so that round meets its ties (to even) half the time.
    const auto constant = [dt](double v) {
      return Op(OpKind::kConstant, {}, Attributes().Set("value", v).Set("dtype", dt));
    };
    const Value x = b.Uniform(dt, {6, 35}, -8, 8);
    const Value halves =
        Op(OpKind::kMul, {Op(OpKind::kFloor, {Op(OpKind::kMul, {x, constant(2)})}), constant(0.5)});
    for (OpKind op : {OpKind::kFloor, OpKind::kCeil, OpKind::kRound}) {
      ExpectParity(b, {Op(op, {x}), Op(op, {halves})}, 0, OpName(op));
    }
  }
}

TEST_P(BackendParityTest, CastsBetweenEveryDType) {
  Builder b(2);
  const DType all[] = {DType::kBool, DType::kI32, DType::kI64, DType::kF32, DType::kF64};
  for (DType from : all) {
    for (DType to : all) {
      Value x = from == DType::kF32 || from == DType::kF64 ? b.Uniform(from, {6, 5}, -1e10, 1e10)
                                                           : b.Param(from, {6, 5});
      ExpectParity(b, {Op(OpKind::kCast, {x}, DTypeAttr(to))}, 0,
                   std::string("cast ") + DTypeName(from) + "->" + DTypeName(to));
    }
  }
}

TEST_P(BackendParityTest, BinaryOpsWithBroadcast) {
  Builder b(3);
  for (DType dt : kNumeric) {
    for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kMaximum,
                      OpKind::kMinimum, OpKind::kEq, OpKind::kNe, OpKind::kLt, OpKind::kLe,
                      OpKind::kGt, OpKind::kGe}) {
      ExpectParity(b, {Op(op, {b.Param(dt, {4, 1, 6}), b.Param(dt, {5, 1})})}, kTol, OpName(op));
      ExpectParity(b, {Op(op, {b.Param(dt, {}), b.Param(dt, {3, 8})})}, kTol, OpName(op));
    }
    Value base = IsFloating(dt) ? b.Uniform(dt, {3, 4}, 0.1, 3) : b.Param(dt, {3, 4});
    Value exponent = IsFloating(dt) ? b.Param(dt, {4}) : b.Index(dt, {4}, 5);
    ExpectParity(b, {Op(OpKind::kPow, {base, exponent})}, kTol, "pow");
  }
  for (OpKind op : {OpKind::kLogicalAnd, OpKind::kLogicalOr, OpKind::kEq, OpKind::kLt}) {
    ExpectParity(b, {Op(op, {b.Param(DType::kBool, {2, 7}), b.Param(DType::kBool, {7})})}, 0,
                 OpName(op));
  }
  for (DType dt : {DType::kBool, DType::kI32, DType::kI64, DType::kF32, DType::kF64}) {
    ExpectParity(b,
                 {Op(OpKind::kWhere,
                     {b.Param(DType::kBool, {3, 1}), b.Param(dt, {1, 5}), b.Param(dt, {3, 5})})},
                 0, "where");
  }
}

TEST_P(BackendParityTest, NaNSemantics) {
  Builder b(4);
  // log of negatives gives NaNs mixed with numbers.
  Value x = Op(OpKind::kLog, {b.Param(DType::kF32, {6, 8})});
  Value y = b.Param(DType::kF32, {6, 8});
  ExpectParity(b,
               {Op(OpKind::kMaximum, {x, y}), Op(OpKind::kMinimum, {y, x}),
                Op(OpKind::kMax, {x}, Dims({1}, false)), Op(OpKind::kMin, {x}, Dims({0}, true)),
                Op(OpKind::kArgmax, {x}, Dim(1).Set("keepdim", false)), Op(OpKind::kRelu, {x})},
               kTol, "nan");
}

TEST_P(BackendParityTest, IntegerErrorsMatchInterp) {
  Builder b(5);
  Value zero = Op(OpKind::kSub, {b.Param(DType::kI32, {3}), b.Param(DType::kI32, {3})});
  ExpectParity(b, {Op(OpKind::kDiv, {b.Param(DType::kI32, {2, 3}), zero})}, 0, "div by zero");
  Value neg = Op(OpKind::kNeg, {b.Index(DType::kI64, {4}, 3)});
  ExpectParity(b,
               {Op(OpKind::kPow, {b.Param(DType::kI64, {4}),
                                  Op(OpKind::kSub, {neg, b.Index(DType::kI64, {4}, 1)})})},
               0, "negative exponent");
}

TEST_P(BackendParityTest, Reductions) {
  Builder b(6);
  for (DType dt : kNumeric) {
    Value x = b.Param(dt, {4, 5, 6});
    for (OpKind op : {OpKind::kSum, OpKind::kMax, OpKind::kMin}) {
      for (std::vector<int64_t> dims :
           std::vector<std::vector<int64_t>>{{0}, {1}, {2}, {0, 2}, {0, 1, 2}}) {
        ExpectParity(b, {Op(op, {x}, Dims(dims, false))}, 1e-5, OpName(op));
        ExpectParity(b, {Op(op, {x}, Dims(dims, true))}, 1e-5, OpName(op));
      }
    }
    for (int64_t d = 0; d < 3; ++d) {
      ExpectParity(b, {Op(OpKind::kArgmax, {x}, Dim(d).Set("keepdim", d == 1))}, 0, "argmax");
    }
    if (IsFloating(dt)) {
      ExpectParity(b, {Op(OpKind::kMean, {x}, Dims({1, 2}, false))}, 1e-5, "mean");
      // Long rows exercise the blocked f32 sum. Its error is that of f32 partial sums of
      // magnitude ~sqrt(rows): about 2e-5 for 5000 normal values with 8-lane vectors (the
      // reference sums in f64), so 1e-4 rather than the elementwise 1e-5.
      ExpectParity(b, {Op(OpKind::kSum, {b.Param(dt, {3, 5000})}, Dims({1}, false))}, 1e-4,
                   "long sum");
      ExpectParity(b, {Op(OpKind::kMean, {b.Param(dt, {0, 4})}, Dims({0}, false))}, 0,
                   "mean of nothing");
    }
  }
  ExpectParity(b, {Op(OpKind::kSum, {b.Param(DType::kF32, {3, 0})}, Dims({1}, true))}, 0,
               "empty sum");
  // Reducing no dimensions (a 0-d input, or dims=[]) keeps each element.
  for (OpKind op : {OpKind::kSum, OpKind::kMean, OpKind::kProd, OpKind::kMax}) {
    ExpectParity(b, {Op(op, {b.Param(DType::kF64, {})}, Dims({}, false))}, 0, "0-d reduce");
    ExpectParity(b, {Op(op, {b.Param(DType::kF32, {2, 3})}, Dims({}, true))}, 0, "dims=[]");
  }
  ExpectParity(b, {Op(OpKind::kSum, {b.Param(DType::kI32, {4})}, Dims({}, false))}, 0,
               "i32 sum of no dims");
}

// Factors of magnitude 0.7 to 1.4 and either sign, so that products of a hundred of them
// stay near 1, where the tolerance is relative.
Value FactorsNearOne(Builder& b, DType dtype, std::vector<int64_t> sizes, double spread = 0.4) {
  const Value x = b.Uniform(dtype, sizes, 1 / (1 + spread), 1 + spread);
  return Op(OpKind::kWhere, {b.Param(DType::kBool, sizes), x, Op(OpKind::kNeg, {x})});
}

TEST_P(BackendParityTest, Products) {
  Builder b(13);
  for (DType dt : {DType::kF32, DType::kF64}) {
    const Value x = FactorsNearOne(b, dt, {4, 5, 6});
    for (std::vector<int64_t> dims :
         std::vector<std::vector<int64_t>>{{0}, {1}, {2}, {0, 2}, {0, 1, 2}}) {
      ExpectParity(b, {Op(OpKind::kProd, {x}, Dims(dims, dims.size() == 1))}, 1e-5, "prod");
    }
    // Long rows, and columns long enough to be split across threads. The error of an f32
    // product of n factors grows like sqrt(n) roundings.
    ExpectParity(b, {Op(OpKind::kProd, {FactorsNearOne(b, dt, {3, 5000}, 0.01)}, Dims({1}, false))},
                 1e-4, "long prod");
    ExpectParity(b,
                 {Op(OpKind::kProd, {FactorsNearOne(b, dt, {3000, 24}, 0.01)}, Dims({0}, false))},
                 1e-4, "column prod");
    // A product fused with the elementwise work before and after it.
    const Value y = FactorsNearOne(b, dt, {6, 40});
    ExpectParity(
        b, {Op(OpKind::kAdd, {Op(OpKind::kProd, {Op(OpKind::kMul, {y, y})}, Dims({1}, true)), y})},
        1e-5, "fused prod");
    ExpectParity(b, {Op(OpKind::kProd, {b.Param(dt, {0, 4})}, Dims({0}, false))}, 0,
                 "prod of nothing");
  }
  // Integer products wrap: the same bits whatever the order of the factors.
  for (DType dt : {DType::kI32, DType::kI64}) {
    const Value x = b.Param(dt, {4, 5, 30});
    ExpectParity(b, {Op(OpKind::kProd, {x}, Dims({2}, false))}, 0, "integer prod");
    ExpectParity(b, {Op(OpKind::kProd, {x}, Dims({0, 1, 2}, true))}, 0, "integer prod");
  }
}

TEST_P(BackendParityTest, Matmul) {
  Builder b(7);
  for (DType dt : kNumeric) {
    const double tol = dt == DType::kF32 ? 1e-4 : 1e-9;
    ExpectParity(b, {Op(OpKind::kMatmul, {b.Param(dt, {5, 7}), b.Param(dt, {7, 3})})}, tol,
                 "matmul");
    ExpectParity(b, {Op(OpKind::kMatmul, {b.Param(dt, {2, 1, 5, 7}), b.Param(dt, {3, 7, 4})})}, tol,
                 "batched broadcast matmul");
    Value t = Op(OpKind::kPermute, {b.Param(dt, {2, 4, 6})},
                 Attributes().Set("perm", std::vector<int64_t>{0, 2, 1}));
    ExpectParity(b, {Op(OpKind::kMatmul, {t, b.Param(dt, {4, 3})})}, tol, "transposed a");
    Value u = Op(OpKind::kPermute, {b.Param(dt, {3, 4})},
                 Attributes().Set("perm", std::vector<int64_t>{1, 0}));
    ExpectParity(b, {Op(OpKind::kMatmul, {b.Param(dt, {2, 5, 4}), u})}, tol, "transposed b");
    ExpectParity(b, {Op(OpKind::kMatmul, {b.Param(dt, {3, 0}), b.Param(dt, {0, 2})})}, 0,
                 "empty inner");
    Value e = Op(OpKind::kExp, {b.Param(DType::kF32, {4, 4})});
    ExpectParity(b, {Op(OpKind::kMatmul, {e, e})}, 1e-4, "fused operand");
  }
}

// Matmuls big enough to be shared out over threads: batches fewer than (OpenBLAS's own
// threads), equal to and more than the threads (whole matrices per thread), broadcast
// batches, transposed operands and odd sizes.
TEST_P(BackendParityTest, MatmulAcrossThreads) {
  Builder b(11);
  auto transposed = [&b](std::vector<int64_t> sizes) {
    std::vector<int64_t> perm(sizes.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
    std::swap(perm[perm.size() - 2], perm.back());
    return Op(OpKind::kPermute, {b.Param(DType::kF32, sizes)}, Attributes().Set("perm", perm));
  };
  struct Case {
    std::string name;
    Value a, b;
  };
  const std::vector<Case> cases = {
      {"one matrix, taller than wide", b.Param(DType::kF32, {131, 45}),
       b.Param(DType::kF32, {45, 67})},
      {"one matrix, wider than tall", b.Param(DType::kF32, {67, 45}),
       b.Param(DType::kF32, {45, 129})},
      {"one matrix, both transposed", transposed({45, 131}), transposed({67, 45})},
      {"3 matrices", b.Param(DType::kF32, {3, 40, 33}), b.Param(DType::kF32, {3, 33, 50})},
      {"3 matrices, transposed a", transposed({3, 33, 70}), b.Param(DType::kF32, {3, 33, 50})},
      {"3 matrices, transposed b", b.Param(DType::kF32, {3, 70, 33}), transposed({3, 50, 33})},
      {"2 wide matrices, transposed b", b.Param(DType::kF32, {2, 40, 33}),
       transposed({2, 150, 33})},
      {"20 matrices, b broadcast", b.Param(DType::kF32, {20, 37, 21}),
       b.Param(DType::kF32, {21, 35})},
      {"broadcast batch dims", b.Param(DType::kF32, {2, 1, 30, 17}),
       b.Param(DType::kF32, {5, 17, 33})},
      {"48 attention-like matrices", b.Param(DType::kF32, {48, 64, 64}),
       transposed({48, 64, 64})},
  };
  for (int threads : {1, 2, 3, 5}) {
    ScopedConfigOverride cfg;
    cfg->num_threads = threads;
    for (const Case& c : cases) {
      ExpectParity(b, {Op(OpKind::kMatmul, {c.a, c.b})}, 1e-4,
                   c.name + " on " + std::to_string(threads) + " threads");
    }
  }
  Builder d(12);
  ScopedConfigOverride cfg;
  cfg->num_threads = 3;
  ExpectParity(d, {Op(OpKind::kMatmul, {d.Param(DType::kF64, {5, 41, 37}),
                                        d.Param(DType::kF64, {37, 43})})},
               1e-9, "f64 on 3 threads");
}

TEST_P(BackendParityTest, Views) {
  Builder b(8);
  for (DType dt : {DType::kBool, DType::kI32, DType::kI64, DType::kF32, DType::kF64}) {
    Value x = b.Param(dt, {4, 6, 5});
    auto sizes = [](std::vector<int64_t> s) { return Attributes().Set("sizes", std::move(s)); };
    ExpectParity(b, {Op(OpKind::kReshape, {x}, sizes({24, 5}))}, 0, "reshape");
    ExpectParity(b, {Op(OpKind::kReshape, {x}, sizes({2, 2, 3, 10}))}, 0, "reshape split");
    ExpectParity(b, {Op(OpKind::kReshape, {x}, sizes({120}))}, 0, "reshape flat");
    ExpectParity(b, {Op(OpKind::kReshape, {x}, sizes({8, 15}))}, 0, "reshape regroup");
    ExpectParity(b, {Op(OpKind::kReshape, {b.Param(dt, {})}, sizes({1, 1}))}, 0, "reshape 0-d");
    ExpectParity(
        b, {Op(OpKind::kPermute, {x}, Attributes().Set("perm", std::vector<int64_t>{2, 0, 1}))}, 0,
        "permute");
    ExpectParity(b, {Op(OpKind::kExpand, {b.Param(dt, {6, 1})}, sizes({3, 6, 4}))}, 0, "expand");
    ExpectParity(b,
                 {Op(OpKind::kSlice, {x},
                     Attributes()
                         .Set("dim", int64_t{1})
                         .Set("start", int64_t{1})
                         .Set("end", int64_t{6})
                         .Set("step", int64_t{2}))},
                 0, "slice");
    ExpectParity(b,
                 {Op(OpKind::kSlice, {x},
                     Attributes()
                         .Set("dim", int64_t{0})
                         .Set("start", int64_t{2})
                         .Set("end", int64_t{2})
                         .Set("step", int64_t{1}))},
                 0, "empty slice");
    ExpectParity(b,
                 {Op(OpKind::kConcat, {x, b.Param(dt, {4, 0, 5}), b.Param(dt, {4, 2, 5})}, Dim(1))},
                 0, "concat");
    ExpectParity(b, {Op(OpKind::kConcat, {b.Param(dt, {2, 3}), b.Param(dt, {5, 3})}, Dim(0))}, 0,
                 "concat dim 0");
    // Along the innermost dimension the cpu backend's element loop runs in blocks that end
    // at each seam (and at the empty part's).
    ExpectParity(b,
                 {Op(OpKind::kConcat,
                     {b.Param(dt, {4, 6, 1}), b.Param(dt, {4, 6, 7}), b.Param(dt, {4, 6, 0}),
                      b.Param(dt, {4, 6, 2}), x},
                     Dim(2))},
                 0, "concat innermost");
    ExpectParity(
        b,
        {Op(OpKind::kPad, {x},
            Attributes().Set("pads", std::vector<int64_t>{1, 0, -2, 3, 0, -1}).Set("value", 2.5))},
        0, "pad and crop");
  }
  // Chains of views over a non-contiguous operand, fused into one elementwise kernel.
  Value x = b.Param(DType::kF32, {6, 4});
  Value t = Op(OpKind::kPermute, {x}, Attributes().Set("perm", std::vector<int64_t>{1, 0}));
  Value r = Op(OpKind::kReshape, {t}, Attributes().Set("sizes", std::vector<int64_t>{2, 12}));
  Value s = Op(OpKind::kAdd, {r, Op(OpKind::kExp, {r})});
  ExpectParity(b, {s, Op(OpKind::kSum, {s}, Dims({1}, true))}, kTol, "views chain");
}

TEST_P(BackendParityTest, GeneratorsAndScalars) {
  Builder b(9);
  for (DType dt : kNumeric) {
    ExpectParity(b,
                 {Op(OpKind::kArange, {},
                     Attributes()
                         .Set("start", -3.0)
                         .Set("step", 0.5)
                         .Set("size", int64_t{11})
                         .Set("dtype", dt))},
                 0, "arange");
    Value c = Op(OpKind::kConstant, {}, Attributes().Set("value", -2.75).Set("dtype", dt));
    Value s = b.ScalarParam(dt, 1.5);
    ExpectParity(b, {Op(OpKind::kMul, {Op(OpKind::kAdd, {b.Param(dt, {3, 4}), c}), s}), s, c}, kTol,
                 "constant and scalar");
  }
}

TEST_P(BackendParityTest, RandomNumbers) {
  Builder b(25);
  const auto rand = [&](DType dt, std::vector<int64_t> sizes) {
    // A key above 2^32, so that both halves of Philox's key matter.
    return Op(OpKind::kRandUniform, {b.ScalarParam(DType::kI64, 0x1234567890abcdLL)},
              Attributes().Set("sizes", std::move(sizes)).Set("dtype", dt));
  };
  const auto perm = [](Value x, std::vector<int64_t> p) {
    return Op(OpKind::kPermute, {x}, Attributes().Set("perm", std::move(p)));
  };
  for (DType dt : {DType::kF32, DType::kF64}) {
    ExpectParity(b, {rand(dt, {37, 29})}, 0, "rand_uniform");
    // Read through a transpose and a slice, beside a loaded operand: each element's number
    // is its position in the rand_uniform node's own shape.
    const Value r = rand(dt, {5, 6, 7});
    const Value sliced = Op(OpKind::kSlice, {perm(r, {2, 0, 1})},
                            Attributes()
                                .Set("dim", int64_t{2})
                                .Set("start", int64_t{1})
                                .Set("end", int64_t{6})
                                .Set("step", int64_t{2}));
    ExpectParity(b, {Op(OpKind::kAdd, {sliced, b.Param(dt, {7, 5, 3})})}, 0, "through views");
    ExpectParity(b,
                 {Op(OpKind::kSum, {rand(dt, {6, 300})}, Dims({1}, false)),
                  Op(OpKind::kMax, {rand(dt, {40, 9})}, Dims({0}, true))},
                 1e-5, "reduced");
  }
  // A dropout mask inside batched attention ([B, heads, L, L] scores), the shape of kernel
  // that runs one batch element at a time on the cpu backend.
  const Value scores =
      Op(OpKind::kMatmul, {b.Param(DType::kF32, {2, 3, 16, 8}),
                           perm(b.Param(DType::kF32, {2, 3, 16, 8}), {0, 1, 3, 2})});
  const Value keep =
      Op(OpKind::kLt, {rand(DType::kF32, {2, 3, 16, 16}), b.ScalarParam(DType::kF32, 0.75)});
  const Value dropped = Op(OpKind::kMul, {Op(OpKind::kExp, {scores}),
                                          Op(OpKind::kCast, {keep}, DTypeAttr(DType::kF32))});
  ExpectParity(b, {Op(OpKind::kMatmul, {dropped, b.Param(DType::kF32, {2, 3, 16, 8})})}, 1e-4,
               "dropout in attention");
}

TEST_P(BackendParityTest, Indexing) {
  Builder b(10);
  for (DType it : {DType::kI32, DType::kI64}) {
    for (DType dt : {DType::kBool, DType::kI32, DType::kF32, DType::kF64}) {
      Value x = b.Param(dt, {5, 6});
      ExpectParity(b, {Op(OpKind::kGather, {x, b.Index(it, {3, 6}, 5)}, Dim(0))}, 0, "gather 0");
      ExpectParity(b, {Op(OpKind::kGather, {x, b.Index(it, {5, 9}, 6)}, Dim(1))}, 0, "gather 1");
      ExpectParity(b, {Op(OpKind::kIndexSelect, {x, b.Index(it, {7}, 6)}, Dim(1))}, 0,
                   "index_select");
      ExpectParity(b, {Op(OpKind::kIndexSelect, {x, b.Index(it, {4}, 5)}, Dim(0))}, 0,
                   "index_select 0");
    }
    for (DType dt : kNumeric) {
      for (int64_t dim : {0, 1}) {
        Value self = b.Param(dt, {4, 5});
        Value index = b.Index(it, {6, 3}, dim == 0 ? 4 : 5);
        if (dim == 1) index = b.Index(it, {3, 7}, 5);
        Value src = b.Param(dt, {7, 8});
        Value sa = Op(OpKind::kScatterAdd, {self, index, src}, Dim(dim));
        ExpectParity(b, {sa, Op(OpKind::kExp, {Op(OpKind::kCast, {sa}, DTypeAttr(DType::kF32))})},
                     1e-5, "scatter_add");
      }
      // A constant src (counting, as one_hot does): printed as a literal.
      Value ones = Op(OpKind::kExpand,
                      {Op(OpKind::kConstant, {}, Attributes().Set("value", 1.0).Set("dtype", dt))},
                      Attributes().Set("sizes", std::vector<int64_t>{6, 1}));
      ExpectParity(
          b, {Op(OpKind::kScatterAdd, {b.Param(dt, {6, 3}), b.Index(it, {6, 1}, 3), ones}, Dim(1))},
          0, "scatter_add of a constant");
    }
    // Out of range: the same error as interp.
    Value x = b.Param(DType::kF32, {3, 4});
    ExpectParity(b, {Op(OpKind::kGather, {x, b.Index(it, {2, 4}, 9)}, Dim(0))}, 0, "gather oob");
    ExpectParity(b, {Op(OpKind::kIndexSelect, {x, b.Index(it, {5}, 9)}, Dim(1))}, 0,
                 "index_select oob");
    ExpectParity(b,
                 {Op(OpKind::kScatterAdd, {x, b.Index(it, {2, 4}, 9), b.Param(DType::kF32, {2, 4})},
                     Dim(0))},
                 0, "scatter_add oob");
  }
}

}  // namespace
}  // namespace kiln
