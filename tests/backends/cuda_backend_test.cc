// The cuda backend without a GPU: NVRTC compiles the generated kernels for sm_80 and
// sm_90 (where kiln has the toolkit), the emulated device runs them, and the launches the
// emitter plans. Parity of every op on cuda_emulated is in backend_parity_test.cc.
#include "backends/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/backend.h"
#include "backends/cuda/cuda_executable.h"
#include "backends/cuda/emulated_device.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "codegen/cuda_emitter.h"
#include "codegen/fusion_plan.h"
#include "codegen/kernel_ir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/graph.h"
#include "ir/node.h"
#include "lazy/generator.h"

namespace kiln::cuda {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Value Op(OpKind op, std::vector<Value> operands, Attributes attrs = {}) {
  return Value{
      Node::Create(op, Operands(operands.begin(), operands.end()), std::move(attrs)).value(), 0};
}
Attributes Dims(std::vector<int64_t> dims) {
  return Attributes().Set("dims", std::move(dims)).Set("keepdim", true);
}

// softmax over the last dimension of x f32[rows, cols].
Value Softmax(Value x) {
  Value e = Op(OpKind::kExp, {Op(OpKind::kSub, {x, Op(OpKind::kMax, {x}, Dims({1}))})});
  return Op(OpKind::kDiv, {e, Op(OpKind::kSum, {e}, Dims({1}))});
}

// Without a GPU (these machines), asking for cuda is a clear error, not a crash: the
// binary links no driver, and the runtime reports the missing one.
TEST(CudaBackendTest, WithoutAGpuCudaIsUnavailableWithTheReason) {
  const absl::StatusOr<Backend*> cuda = GetBackend("cuda");
  if (cuda.ok()) GTEST_SKIP() << "a CUDA device is present: " << (*cuda)->name();
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(cuda.status().message()), HasSubstr("no CUDA device"));
  EXPECT_THAT(std::string(cuda.status().message()), HasSubstr("cuda_emulated"));
  // Asked again, the same answer, and the other backends are unaffected.
  EXPECT_EQ(GetBackend("cuda").status(), cuda.status());
  EXPECT_TRUE(GetBackend("cuda_emulated").ok());
}

TEST(CudaBackendTest, RowKernelsShareTheirReductionsAcrossABlock) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {7, 300}), nullptr), 0};
  const Graph graph = Graph::Build({Softmax(x)});
  const codegen::FusionPlan plan = codegen::PlanFusion(graph);
  ASSERT_EQ(plan.kernels.size(), 1u);
  const codegen::KernelIR ir = codegen::LowerKernel(graph, plan, 0).value();
  const codegen::CudaKernelSource source = codegen::EmitCudaKernel(ir);
  ASSERT_EQ(source.launches.size(), 1u);
  const codegen::CudaLaunch& launch = source.launches[0];
  EXPECT_EQ(launch.kind, codegen::CudaLaunch::Kind::kRows);
  EXPECT_EQ(codegen::VarsProduct(ir, launch.block_vars), 7);
  EXPECT_EQ(codegen::VarsProduct(ir, launch.thread_vars), 300);
  EXPECT_THAT(source.source, HasSubstr("kc::BlockReduce(acc"));
  EXPECT_THAT(source.source, HasSubstr("kc::MaxOp<float>"));
  EXPECT_THAT(source.source, HasSubstr("kc::SumOp<float>"));
}

TEST(CudaBackendTest, ElementwiseKernelsAreGridStrideLoops) {
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {5, 9}), nullptr), 0};
  const Graph graph = Graph::Build({Op(OpKind::kTanh, {Op(OpKind::kMul, {x, x})})});
  const codegen::FusionPlan plan = codegen::PlanFusion(graph);
  const codegen::KernelIR ir = codegen::LowerKernel(graph, plan, 0).value();
  const codegen::CudaKernelSource source = codegen::EmitCudaKernel(ir);
  ASSERT_EQ(source.launches.size(), 1u);
  EXPECT_EQ(source.launches[0].kind, codegen::CudaLaunch::Kind::kFlat);
  EXPECT_EQ(codegen::VarsProduct(ir, source.launches[0].thread_vars), 45);
  EXPECT_THAT(source.source, HasSubstr("t += int64_t(gridDim.x) * blockDim.x"));
  EXPECT_THAT(source.source, HasSubstr("tanhf("));
}

// Elementwise kernels take four consecutive elements per thread, moving each operand
// read or written at the element's own position as one vector (16 bytes of f32); a
// broadcast operand is read element by element, and the elements after the last whole
// quad by the plain loop. Checked against interp at sizes with and without such a tail.
TEST(CudaBackendTest, ElementwiseKernelsMoveFourElementsPerAccess) {
  Backend* backend = GetBackend("cuda_emulated").value();
  Backend* interp = GetBackend("interp").value();
  for (const int64_t cols : {16, 13}) {
    const int64_t rows = 7;
    const Shape shape(DType::kF32, {rows, cols}), bias_shape(DType::kF32, {cols});
    Value x = Value{Node::CreateDeviceData(shape, nullptr), 0};
    Value bias = Value{Node::CreateDeviceData(bias_shape, nullptr), 0};
    Value y = Op(OpKind::kTanh, {Op(OpKind::kAdd, {Op(OpKind::kMul, {x, x}), bias})});
    Value positive = Op(OpKind::kGt, {x, bias});
    const Graph graph = Graph::Build({y, positive});
    const codegen::FusionPlan plan = codegen::PlanFusion(graph);
    ASSERT_EQ(plan.kernels.size(), 1u);
    const codegen::KernelIR ir = codegen::LowerKernel(graph, plan, 0).value();
    const std::string source = codegen::EmitCudaKernel(ir).source;
    EXPECT_THAT(source, HasSubstr("kc::AlignedForVectors("));
    int x_buffer = -1, bias_buffer = -1;
    for (size_t b = 0; b < ir.buffers.size(); ++b) {
      const bool input = ir.buffers[b].role == codegen::BufferRole::kInput;
      if (input && ir.buffers[b].shape == shape.sizes()) x_buffer = b;
      if (ir.buffers[b].shape == bias_shape.sizes()) bias_buffer = b;
    }
    ASSERT_GE(x_buffer, 0);
    ASSERT_GE(bias_buffer, 0);
    EXPECT_THAT(source, HasSubstr(absl::StrCat("kc::Load4(b", x_buffer, " + 4 * q)")));
    EXPECT_THAT(source, Not(HasSubstr(absl::StrCat("kc::Load4(b", bias_buffer))));
    EXPECT_THAT(source, HasSubstr("kc::Store4("));

    Generator gen(cols);
    std::vector<float> xs(rows * cols), bs(cols);
    for (float& v : xs) v = static_cast<float>(gen.NextNormal());
    for (float& v : bs) v = static_cast<float>(gen.NextNormal());
    auto run = [&](Backend* b) {
      BufferPtr xb = b->CopyIn(shape, xs.data()).value();
      BufferPtr bb = b->CopyIn(bias_shape, bs.data()).value();
      std::vector<Argument> args;
      for (const Node* p : graph.parameters()) {
        args.push_back(Argument{p == x.node.get() ? xb.get() : bb.get()});
      }
      const std::vector<BufferPtr> out = b->Compile(graph).value()->Run(args).value();
      std::vector<float> values(rows * cols);
      std::vector<uint8_t> flags(rows * cols);
      EXPECT_TRUE(b->CopyOut(*out[0], values.data()).ok());
      EXPECT_TRUE(b->CopyOut(*out[1], flags.data()).ok());
      return std::make_pair(values, flags);
    };
    const auto want = run(interp);
    const auto got = run(backend);
    for (int64_t i = 0; i < rows * cols; ++i) {
      EXPECT_NEAR(got.first[i], want.first[i], 1e-6) << cols << " columns, element " << i;
      EXPECT_EQ(got.second[i], want.second[i]) << cols << " columns, element " << i;
    }
  }
}

TEST(CudaBackendTest, EmulatedDeviceRunsAndNvrtcChecksEveryKernel) {
  auto* backend = dynamic_cast<CudaBackend*>(GetBackend("cuda_emulated").value());
  ASSERT_NE(backend, nullptr);
  auto* device = dynamic_cast<EmulatedDevice*>(backend->device());
  ASSERT_NE(device, nullptr);
  const size_t checks_before = device->nvrtc_checks().size();
  // softmax rows longer than the emulated grid has blocks (8) and than a block has
  // threads, plus a column sum: every loop of the launch goes round more than once.
  const int64_t rows = 19, cols = 700;
  Generator gen(77);
  std::vector<float> host(rows * cols);
  for (float& v : host) v = static_cast<float>(gen.NextNormal());
  BufferPtr in = backend->CopyIn(Shape(DType::kF32, {rows, cols}), host.data()).value();
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {rows, cols}), nullptr), 0};
  Value column_sums = Op(OpKind::kSum, {x}, Attributes().Set("dims", std::vector<int64_t>{0}).Set(
                                                   "keepdim", false));
  const Graph graph = Graph::Build({Softmax(x), column_sums});
  auto exe = backend->Compile(graph).value();
  const std::vector<BufferPtr> out = exe->Run({Argument{in.get()}}).value();
  std::vector<float> probs(rows * cols), sums(cols);
  ASSERT_TRUE(backend->CopyOut(*out[0], probs.data()).ok());
  ASSERT_TRUE(backend->CopyOut(*out[1], sums.data()).ok());
  for (int64_t r = 0; r < rows; ++r) {
    double max = -INFINITY, total = 0;
    for (int64_t c = 0; c < cols; ++c) max = std::max<double>(max, host[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) total += std::exp(host[r * cols + c] - max);
    for (int64_t c = 0; c < cols; c += 37) {
      EXPECT_NEAR(probs[r * cols + c], std::exp(host[r * cols + c] - max) / total, 1e-6)
          << r << "," << c;
    }
  }
  for (int64_t c = 0; c < cols; c += 13) {
    double want = 0;
    for (int64_t r = 0; r < rows; ++r) want += host[r * cols + c];
    EXPECT_NEAR(sums[c], want, 1e-4) << c;
  }
  if (!HaveNvrtc()) GTEST_SKIP() << "kiln was built without the CUDA toolkit: no NVRTC check";
  const std::vector<KernelResources> checks = device->nvrtc_checks();
  ASSERT_GT(checks.size(), checks_before);
  for (size_t k = checks_before; k < checks.size(); ++k) {
    EXPECT_GT(checks[k].registers, 0) << checks[k].name;
    EXPECT_EQ(checks[k].spill_stores + checks[k].spill_loads, 0) << checks[k].name;
  }
}

// Row kernels with several block reductions (layer_norm's mean and variance share one
// shared-memory array; softmax adds a max) give the same bits whatever order the
// emulation resumes a block's threads in: the barriers, not the order, make them right.
TEST(CudaBackendTest, RowKernelsAgreeUnderShuffledThreadOrders) {
  auto* backend = dynamic_cast<CudaBackend*>(GetBackend("cuda_emulated").value());
  auto* device = dynamic_cast<EmulatedDevice*>(backend->device());
  ASSERT_NE(device, nullptr);
  const int64_t rows = 11, cols = 300;
  Generator gen(9);
  std::vector<float> host(rows * cols);
  for (float& v : host) v = static_cast<float>(gen.NextNormal());
  BufferPtr in = backend->CopyIn(Shape(DType::kF32, {rows, cols}), host.data()).value();
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {rows, cols}), nullptr), 0};
  Value centred = Op(OpKind::kSub, {x, Op(OpKind::kMean, {x}, Dims({1}))});
  Value variance = Op(OpKind::kMean, {Op(OpKind::kMul, {centred, centred})}, Dims({1}));
  Value normed = Op(OpKind::kMul, {centred, Op(OpKind::kRsqrt, {variance})});
  const Graph graph = Graph::Build({normed, Softmax(x)});
  auto exe = backend->Compile(graph).value();
  std::vector<std::vector<float>> by_seed;
  for (uint64_t seed : {0, 1, 7, 42}) {
    device->SetScheduleSeed(seed);
    const std::vector<BufferPtr> out = exe->Run({Argument{in.get()}}).value();
    std::vector<float> values(2 * rows * cols);
    ASSERT_TRUE(backend->CopyOut(*out[0], values.data()).ok());
    ASSERT_TRUE(backend->CopyOut(*out[1], values.data() + rows * cols).ok());
    by_seed.push_back(std::move(values));
  }
  device->SetScheduleSeed(0);
  for (size_t s = 1; s < by_seed.size(); ++s) {
    int64_t differ = 0;
    for (size_t i = 0; i < by_seed[0].size(); ++i) differ += by_seed[s][i] != by_seed[0][i];
    EXPECT_EQ(differ, 0) << "elements that differ from thread order under seed #" << s;
  }
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += host[r * cols + c] / double(cols);
    for (int64_t c = 0; c < cols; ++c) {
      var += (host[r * cols + c] - mean) * (host[r * cols + c] - mean) / double(cols);
    }
    for (int64_t c = 0; c < cols; c += 29) {
      EXPECT_NEAR(by_seed[0][r * cols + c], (host[r * cols + c] - mean) / std::sqrt(var), 1e-4);
    }
  }
}

// Every output of `graph` (whose one parameter is f32 `host` of `shape`) run on `backend`,
// as doubles.
std::vector<std::vector<double>> RunGraph(Backend* backend, const Graph& graph, const Shape& shape,
                                          const std::vector<float>& host) {
  BufferPtr in = backend->CopyIn(shape, host.data()).value();
  const std::vector<BufferPtr> out =
      backend->Compile(graph).value()->Run({Argument{in.get()}}).value();
  std::vector<std::vector<double>> values;
  for (const BufferPtr& buffer : out) {
    const Shape& s = buffer->shape();
    std::vector<double>& v = values.emplace_back(s.numel());
    if (s.dtype() == DType::kI64) {
      std::vector<int64_t> raw(v.size());
      EXPECT_TRUE(backend->CopyOut(*buffer, raw.data()).ok());
      std::copy(raw.begin(), raw.end(), v.begin());
    } else {
      std::vector<float> raw(v.size());
      EXPECT_TRUE(backend->CopyOut(*buffer, raw.data()).ok());
      std::copy(raw.begin(), raw.end(), v.begin());
    }
  }
  return values;
}

// `graph` on cuda_emulated agrees with interp and gives the same bits under a shuffled
// thread order; returns its launch plan.
std::string ExpectSplitRunMatchesInterp(const Graph& graph, const Shape& shape,
                                        const std::vector<float>& host) {
  auto* backend = dynamic_cast<CudaBackend*>(GetBackend("cuda_emulated").value());
  auto* device = dynamic_cast<EmulatedDevice*>(backend->device());
  const auto want = RunGraph(GetBackend("interp").value(), graph, shape, host);
  const auto got = RunGraph(backend, graph, shape, host);
  EXPECT_EQ(got.size(), want.size());
  for (size_t o = 0; o < want.size() && o < got.size(); ++o) {
    EXPECT_EQ(got[o].size(), want[o].size()) << o;
    for (size_t i = 0; i < want[o].size() && i < got[o].size(); ++i) {
      EXPECT_NEAR(got[o][i], want[o][i], 2e-5 * std::max(1.0, std::fabs(want[o][i])))
          << "output " << o << " element " << i;
    }
  }
  device->SetScheduleSeed(5);
  EXPECT_EQ(RunGraph(backend, graph, shape, host), got) << "the result depends on thread order";
  device->SetScheduleSeed(0);
  auto exe = backend->Compile(graph).value();
  return dynamic_cast<CudaExecutable*>(exe.get())->LaunchPlan();
}

// Fewer rows than the (emulated) device runs blocks at once: each row is split over
// several blocks, whose partial results later stages combine. A full sum, a full sum
// feeding every element, argmax, softmax and layer_norm (whose variance waits for its
// mean: three stages) agree with interp, and give the same bits in any thread order.
TEST(CudaBackendTest, FewLongRowsAreSplitOverSeveralBlocks) {
  const int64_t rows = 3, cols = 2500;
  Generator gen(21);
  std::vector<float> host(rows * cols);
  for (float& v : host) v = static_cast<float>(gen.NextNormal());
  const Shape shape(DType::kF32, {rows, cols});
  Value x = Value{Node::CreateDeviceData(shape, nullptr), 0};
  const Attributes all = Attributes().Set("dims", std::vector<int64_t>{0, 1}).Set("keepdim", false);
  Value total = Op(OpKind::kSum, {Op(OpKind::kTanh, {x})}, all);
  Value share = Op(OpKind::kDiv, {x, Op(OpKind::kSum, {Op(OpKind::kExp, {x})}, Dims({0, 1}))});
  Value largest = Op(OpKind::kMax, {x}, all);
  Value argmax =
      Op(OpKind::kArgmax, {x}, Attributes().Set("dim", int64_t{1}).Set("keepdim", false));
  Value centred = Op(OpKind::kSub, {x, Op(OpKind::kMean, {x}, Dims({1}))});
  Value variance = Op(OpKind::kMean, {Op(OpKind::kMul, {centred, centred})}, Dims({1}));
  Value normed = Op(OpKind::kMul, {centred, Op(OpKind::kRsqrt, {variance})});
  const Graph graph = Graph::Build({total, share, largest, argmax, normed, Softmax(x)});
  const std::string plan = ExpectSplitRunMatchesInterp(graph, shape, host);
  EXPECT_THAT(plan, HasSubstr("split 8 in 2 stages")) << plan;  // the full sums: 1 row
  EXPECT_THAT(plan, HasSubstr("in 3 stages")) << plan;          // layer_norm
}

// A bias gradient: a floating sum over two leading dimensions, which each thread of a
// column walks in order (two nested loops around a blocked partial sum).
TEST(CudaBackendTest, ColumnSumsOverSeveralLeadingDimensions) {
  Backend* backend = GetBackend("cuda_emulated").value();
  const int64_t a = 3, b = 700, c = 37;  // b > the 1024-element partial-sum block / a
  Generator gen(5);
  std::vector<float> host(a * b * c);
  for (float& v : host) v = static_cast<float>(gen.NextNormal());
  BufferPtr in = backend->CopyIn(Shape(DType::kF32, {a, b, c}), host.data()).value();
  Value x = Value{Node::CreateDeviceData(Shape(DType::kF32, {a, b, c}), nullptr), 0};
  Value sums = Op(OpKind::kSum, {x},
                  Attributes().Set("dims", std::vector<int64_t>{0, 1}).Set("keepdim", false));
  const Graph graph = Graph::Build({sums});
  const codegen::FusionPlan plan = codegen::PlanFusion(graph);
  const codegen::KernelIR ir = codegen::LowerKernel(graph, plan, 0).value();
  ASSERT_EQ(ir.nests.size(), 1u);
  ASSERT_EQ(ir.nests[0].kind, codegen::NestKind::kColumnReduce);
  ASSERT_EQ(ir.nests[0].num_reduced, 2);
  auto exe = backend->Compile(graph).value();
  const std::vector<BufferPtr> out = exe->Run({Argument{in.get()}}).value();
  std::vector<float> got(c);
  ASSERT_TRUE(backend->CopyOut(*out[0], got.data()).ok());
  for (int64_t k = 0; k < c; ++k) {
    double want = 0;
    for (int64_t i = 0; i < a * b; ++i) want += host[i * c + k];
    EXPECT_NEAR(got[k], want, 1e-4 * std::max(1.0, std::fabs(want))) << k;
  }
}

// Few columns over many rows: each column's rows are split over several threads, whose
// partial results later stages combine. Column sums, maxima, a centred copy (an element
// store after the column means) and the column variances (a second level of reduction)
// agree with interp, and give the same bits in any thread order.
TEST(CudaBackendTest, ColumnReductionsOverFewColumnsAreSplitOverTheRows) {
  const int64_t rows = 3000, cols = 5;
  Generator gen(33);
  std::vector<float> host(rows * cols);
  for (float& v : host) v = static_cast<float>(gen.NextNormal() + 3.0);
  const Shape shape(DType::kF32, {rows, cols});
  Value x = Value{Node::CreateDeviceData(shape, nullptr), 0};
  const Attributes over_rows =
      Attributes().Set("dims", std::vector<int64_t>{0}).Set("keepdim", false);
  Value centred = Op(OpKind::kSub, {x, Op(OpKind::kMean, {x}, Dims({0}))});
  Value variance = Op(OpKind::kMean, {Op(OpKind::kMul, {centred, centred})}, over_rows);
  const Graph graph = Graph::Build(
      {Op(OpKind::kSum, {x}, over_rows), Op(OpKind::kMax, {x}, over_rows), centred, variance});
  const std::string plan = ExpectSplitRunMatchesInterp(graph, shape, host);
  EXPECT_THAT(plan, HasSubstr(", split ")) << plan;
}

TEST(NvrtcTest, CompilesForBothCheckedArchitecturesAndReportsResources) {
  if (!HaveNvrtc()) GTEST_SKIP() << "kiln was built without the CUDA toolkit: no NVRTC";
  const std::string source = codegen::CudaPreamble() + R"(
extern "C" __global__ void scale(float* x, const float a, const int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    x[i] = kn::NanMax(x[i] * a, kn::Lowest<float>());
  }
}
)";
  for (const std::string& arch : EmulatedCheckArchitectures()) {
    const absl::StatusOr<CubinResult> result = CompileCuda(source, arch);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_GT(result->cubin.size(), 1000u) << arch;
    ASSERT_EQ(result->kernels.size(), 1u) << result->log;
    EXPECT_EQ(result->kernels[0].name, "scale");
    EXPECT_GT(result->kernels[0].registers, 0);
    EXPECT_THAT(result->log, HasSubstr(arch));
  }
}

TEST(NvrtcTest, ACompileErrorCarriesTheLog) {
  if (!HaveNvrtc()) GTEST_SKIP() << "kiln was built without the CUDA toolkit: no NVRTC";
  const absl::StatusOr<CubinResult> result =
      CompileCuda("extern \"C\" __global__ void broken() { undeclared_name = 1; }", "sm_90",
                  "broken.cu");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("broken.cu"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("undeclared_name"));
}

// How the GPU device compiles a graph: each kernel its own unit, on several threads.
TEST(NvrtcTest, CompilesUnitsInParallelAndReportsTheFirstFailure) {
  if (!HaveNvrtc()) GTEST_SKIP() << "kiln was built without the CUDA toolkit: no NVRTC";
  std::vector<std::string> units;
  for (int k = 0; k < 5; ++k) {
    units.push_back(absl::StrCat("extern \"C\" __global__ void unit", k,
                                 "(float* x) { x[threadIdx.x] *= ", k + 2, ".0f; }"));
  }
  const auto cubins = CompileCudaUnits(units, "sm_90", "parallel");
  ASSERT_TRUE(cubins.ok()) << cubins.status();
  ASSERT_EQ(cubins->size(), units.size());
  for (size_t k = 0; k < units.size(); ++k) {
    ASSERT_EQ((*cubins)[k]->kernels.size(), 1u);
    EXPECT_EQ((*cubins)[k]->kernels[0].name, absl::StrCat("unit", k));
  }
  units[1] = "extern \"C\" __global__ void broken_one() { nope = 1; }";
  units[3] = "extern \"C\" __global__ void broken_three() { nope = 3; }";
  const auto failed = CompileCudaUnits(units, "sm_90", "parallel");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("parallel_1.cu"));
}

TEST(NvrtcTest, ParsesPtxasResourceLines) {
  const std::string log =
      "ptxas info    : 11 bytes gmem\n"
      "ptxas info    : Compiling entry function 'kiln_k0_n0' for 'sm_90'\n"
      "ptxas info    : Function properties for kiln_k0_n0\n"
      "ptxas         .     24 bytes stack frame, 52 bytes spill stores, 48 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 0 barriers, 24 bytes cumulative stack size\n"
      "ptxas info    : Compiling entry function 'kiln_k0_n1' for 'sm_90'\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 18 registers, used 1 barriers\n";
  const std::vector<KernelResources> kernels = ParsePtxasInfo(log);
  ASSERT_EQ(kernels.size(), 2u);
  EXPECT_EQ(kernels[0].name, "kiln_k0_n0");
  EXPECT_EQ(kernels[0].registers, 40);
  EXPECT_EQ(kernels[0].spill_stores, 52);
  EXPECT_EQ(kernels[0].spill_loads, 48);
  EXPECT_EQ(kernels[1].name, "kiln_k0_n1");
  EXPECT_EQ(kernels[1].registers, 18);
  EXPECT_EQ(kernels[1].spill_stores, 0);
}

}  // namespace
}  // namespace kiln::cuda
