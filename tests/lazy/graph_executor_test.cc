#include "lazy/graph_executor.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/ir_text.h"
#include "lazy/compile_cache.h"
#include "lazy/kiln.h"
#include "lazy/recompile_explainer.h"
#include "lazy/tensor_impl.h"
#include "util/config.h"
#include "util/metrics.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pointwise;
using ::testing::StartsWith;

const std::string kThisFile = std::filesystem::path(__FILE__).filename().string();

int64_t Count(std::string_view name) { return metrics::counter(name); }

// 2*x + 1: five nodes (x, 2, mul, 1, add).
constexpr int kAffineStepLine = __LINE__ + 1;
Tensor AffineStep(const Tensor& x) { return x * 2.0 + 1.0; }

Tensor Rows(int64_t rows, float start = 1) {
  std::vector<float> data(rows * 3);
  for (size_t i = 0; i < data.size(); ++i) data[i] = start + static_cast<float>(i);
  return Tensor::from_vector<float>(data, {rows, 3});
}

std::filesystem::path FreshDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    absl::StrCat("kiln_graph_executor_", name, "_", ::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

// A second backend: the reference interpreter under another name (so another cache
// key), optionally with executables that always fail.
class SecondBackend : public Backend {
 public:
  explicit SecondBackend(bool fail_runs) : fail_runs_(fail_runs) {}
  const char* name() const override { return "second"; }
  absl::StatusOr<BufferPtr> Allocate(const Shape& shape) override {
    return interp()->Allocate(shape);
  }
  absl::StatusOr<BufferPtr> CopyIn(const Shape& shape, const void* host) override {
    return interp()->CopyIn(shape, host);
  }
  absl::Status CopyOut(const Buffer& buffer, void* host) override {
    return interp()->CopyOut(buffer, host);
  }
  absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph) override {
    if (fail_runs_) return std::unique_ptr<Executable>(new FailingExecutable);
    return interp()->Compile(graph);
  }

  // A materialised f32 tensor on this backend.
  Tensor Upload(const std::vector<float>& data, std::vector<int64_t> sizes) {
    absl::StatusOr<BufferPtr> buffer = CopyIn(Shape(DType::kF32, sizes), data.data());
    EXPECT_TRUE(buffer.ok()) << buffer.status();
    return Tensor(TensorImpl::Create(*std::move(buffer), this));
  }

 private:
  class FailingExecutable : public Executable {
   public:
    absl::StatusOr<std::vector<BufferPtr>> Run(absl::Span<const Argument>) override {
      return absl::InvalidArgumentError("second: run failed");
    }
  };
  static Backend* interp() { return *GetBackend("interp"); }
  bool fail_runs_;
};

class GraphExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_->debug = 0;
    cfg_->dump_dir.clear();
    cfg_->error_on_recompile = false;
    cfg_->cache_size = 1024;
    metrics::reset();
    clear_compile_cache();
  }

  ScopedConfigOverride cfg_;
};

TEST_F(GraphExecutorTest, SameStepTwiceCompilesOnce) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = AffineStep(x);
  EXPECT_TRUE(y.is_pending());
  mark_step();
  EXPECT_FALSE(y.is_pending());
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(3, 5, 7, 9, 11, 13));
  Tensor z = AffineStep(x);
  mark_step();
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(3, 5, 7, 9, 11, 13));
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 1);
  EXPECT_EQ(Count("MarkStep"), 2);
  EXPECT_EQ(Count("NodesTraced"), 10);
  EXPECT_EQ(Count("ImplicitBarrier"), 0);
  EXPECT_EQ(metrics::timer_count("CompileTime"), 1);
  EXPECT_EQ(metrics::timer_count("ExecuteTime"), 2);
  EXPECT_EQ(last_compile_explanation(), "first compile of this graph structure (5 nodes)");
}

TEST_F(GraphExecutorTest, NewWeightsDoNotRecompile) {
  Tensor y = AffineStep(Tensor::from_vector<float>({1, 2, 3}, {3}));
  mark_step();
  Tensor z = AffineStep(Tensor::from_vector<float>({-4, 0.5, 10}, {3}));
  mark_step();
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(3, 5, 7));
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(-7, 2, 21));
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 1);
}

TEST_F(GraphExecutorTest, ChangingScalarDoesNotRecompile) {
  const Tensor w = Tensor::from_vector<float>({1, -2, 4}, {3});
  for (int i = 0; i < 50; ++i) {
    const double lr = 0.01 * (i + 1);
    Tensor y = w * lr;
    mark_step();
    EXPECT_THAT(
        y.to_vector<float>(),
        Pointwise(FloatNear(1e-6), std::vector<float>{float(lr), float(-2 * lr), float(4 * lr)}))
        << "lr " << lr;
  }
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 49);
}

TEST_F(GraphExecutorTest, NewShapeRecompilesAndSaysWhy) {
  Tensor y = AffineStep(Rows(2));
  mark_step();
  Tensor z = AffineStep(Rows(4));
  mark_step();
  EXPECT_EQ(Count("UncachedCompile"), 2);
  // AffineStep is where the input first meets an op.
  EXPECT_THAT(last_compile_explanation(),
              StartsWith(absl::StrCat("same graph structure; input 0 shape f32[2,3] -> f32[4,3], "
                                      "first used at graph_executor_test.cc:",
                                      kAffineStepLine, " (in ")));
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25));
}

TEST_F(GraphExecutorTest, NewStructureNamesTheOpAndWhereItWasTraced) {
  const Tensor x = Rows(2);
  Tensor y = x + 1.0;  // x, 1, add
  mark_step();
  const int line = __LINE__ + 1;
  Tensor z = x * 3.0;  // x, 3, mul: diverges at node 2
  mark_step();
  EXPECT_THAT(last_compile_explanation(),
              StartsWith(absl::StrCat("new graph structure; first divergence from the closest "
                                      "previous graph at node 2 (op mul), traced at ",
                                      kThisFile, ":", line)));
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(3, 6, 9, 12, 15, 18));
}

TEST_F(GraphExecutorTest, TrainingLoopTracesAConstantGraph) {
  Tensor w = Tensor::from_vector<float>({1, -2, 0.5, 8}, {4});
  const double lr = 0.1;
  std::vector<int64_t> nodes_per_step;
  for (int step = 0; step < 20; ++step) {
    const int64_t before = Count("NodesTraced");
    Tensor grad = w * 2.0;  // d(w^2)/dw
    w = w - lr * grad;
    mark_step();
    nodes_per_step.push_back(Count("NodesTraced") - before);
  }
  for (size_t step = 2; step < nodes_per_step.size(); ++step) {
    EXPECT_EQ(nodes_per_step[step], nodes_per_step[1]) << "step " << step;
  }
  // w, 2, mul (grad), lr, mul, sub.
  EXPECT_EQ(nodes_per_step[1], 6);
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 19);
  const double decay = std::pow(1 - 2 * lr, 20);  // each step multiplies w by 0.8
  EXPECT_THAT(w.to_vector<float>(),
              Pointwise(FloatNear(1e-5), std::vector<float>{float(decay), float(-2 * decay),
                                                            float(0.5 * decay), float(8 * decay)}));
}

TEST_F(GraphExecutorTest, NothingPendingStillCountsAStep) {
  mark_step();
  EXPECT_EQ(Count("MarkStep"), 1);
  EXPECT_EQ(Count("UncachedCompile"), 0);
  EXPECT_EQ(Count("CachedCompile"), 0);
  EXPECT_EQ(last_compile_explanation(), "");
}

TEST_F(GraphExecutorTest, TensorsSharingAValueBecomeOneOutput) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  Tensor a = x * 2.0;
  mark_step();  // one output
  Tensor b = x * 2.0;
  Tensor c = Tensor::from_vector<float>({0, 0}, {2});
  c.assign_(b);  // c and b now share one pending value
  ASSERT_TRUE(c.is_pending());
  mark_step();
  EXPECT_EQ(Count("UncachedCompile"), 1);  // still the one-output graph
  EXPECT_EQ(Count("CachedCompile"), 1);
  EXPECT_EQ(b.impl()->buffer(), c.impl()->buffer());
  EXPECT_THAT(c.to_vector<float>(), ElementsAre(2, 4));
}

TEST_F(GraphExecutorTest, ImplicitBarrierRunsOnlyThatTensor) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  Tensor a = x * 2.0;
  Tensor b = x + 1.0;
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(2, 4));
  EXPECT_FALSE(a.is_pending());
  EXPECT_TRUE(b.is_pending());
  EXPECT_EQ(Count("ImplicitBarrier"), 1);
  EXPECT_EQ(Count("MarkStep"), 0);
  EXPECT_EQ(Count("NodesTraced"), 3);
  mark_step();
  EXPECT_THAT(b.to_vector<float>(), ElementsAre(2, 3));
  EXPECT_EQ(Count("ImplicitBarrier"), 1);  // b was already materialised
}

TEST_F(GraphExecutorTest, ExplicitSyncIsNotAnImplicitBarrier) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  Tensor a = x * 2.0;
  SyncTensors({a, a}, /*implicit=*/false, CallSite());
  EXPECT_FALSE(a.is_pending());
  EXPECT_EQ(Count("ImplicitBarrier"), 0);
  EXPECT_EQ(Count("UncachedCompile"), 1);
}

TEST_F(GraphExecutorTest, TraceTimeIsTheGapBetweenBarriers) {
  mark_step();
  metrics::GetTimer("TraceTime")->Reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  mark_step();
  EXPECT_EQ(metrics::timer_count("TraceTime"), 1);
  EXPECT_GE(metrics::GetTimer("TraceTime")->total_seconds(), 0.005);
}

TEST_F(GraphExecutorTest, ErrorOnRecompileRefusesAShapeChange) {
  cfg_->error_on_recompile = true;
  Tensor y = AffineStep(Rows(2));
  mark_step();  // a first compile is fine
  Tensor z = AffineStep(Rows(4));
  try {
    mark_step();
    FAIL() << "mark_step should have thrown";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(),
                StartsWith(absl::StrCat(
                    "recompile with KILN_ERROR_ON_RECOMPILE=1: same graph structure; "
                    "input 0 shape f32[2,3] -> f32[4,3], first used at graph_executor_test.cc:",
                    kAffineStepLine)));
  }
  EXPECT_TRUE(z.is_pending());
  EXPECT_EQ(Count("UncachedCompile"), 1);

  // A new structure is a first compile, not a recompile.
  Tensor w = Rows(2) - 1.0;
  EXPECT_NO_THROW(SyncTensors({w}, /*implicit=*/false, CallSite()));

  {
    WarmupScope warmup;
    mark_step();
  }
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25));
  EXPECT_EQ(Count("UncachedCompile"), 3);

  // Outside the scope a third shape is refused again, and succeeds once disabled.
  Tensor v = AffineStep(Rows(1, 10));
  EXPECT_THROW(mark_step(), Error);
  EXPECT_TRUE(v.is_pending());
  cfg_->error_on_recompile = false;
  mark_step();
  EXPECT_THAT(v.to_vector<float>(), ElementsAre(21, 23, 25));
}

TEST_F(GraphExecutorTest, DebugPrintsEachCompile) {
  cfg_->debug = 1;
  const Tensor x = Rows(2);
  ::testing::internal::CaptureStderr();
  Tensor y = AffineStep(x);
  mark_step();
  Tensor z = AffineStep(x);
  mark_step();  // cached: prints nothing
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, StartsWith("kiln: compile #1 (graph "));
  EXPECT_THAT(out, HasSubstr("): first compile of this graph structure (5 nodes)\n"));
  EXPECT_EQ(out.find("kiln: compile #2"), std::string::npos);
  EXPECT_THAT(out, Not(HasSubstr("graph {")));  // IR only at level 2
}

TEST_F(GraphExecutorTest, DebugTwoPrintsTheGraph) {
  cfg_->debug = 2;
  ::testing::internal::CaptureStderr();
  Tensor y = AffineStep(Rows(2));
  mark_step();
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr("\nkiln: graph {\nkiln:   %0 = f32[2,3] device_data()\n"));
  EXPECT_THAT(out, HasSubstr("add("));
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) EXPECT_THAT(line, StartsWith("kiln: "));
}

TEST_F(GraphExecutorTest, DebugNamesTheImplicitBarrierSite) {
  cfg_->debug = 1;
  Tensor y = AffineStep(Rows(2));
  ::testing::internal::CaptureStderr();
  const int line = __LINE__ + 1;
  const std::vector<float> values = y.to_vector<float>();
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, StartsWith(absl::StrCat("kiln: implicit barrier (item/to_vector) at ", kThisFile,
                                           ":", line)));
  EXPECT_EQ(values[0], 3);
  EXPECT_EQ(Count("ImplicitBarrier"), 1);
}

TEST_F(GraphExecutorTest, DumpDirGetsParsableGraphs) {
  const std::filesystem::path dir = FreshDir("dump");
  cfg_->dump_dir = dir.string();
  Tensor y = AffineStep(Rows(2));
  mark_step();
  std::vector<std::filesystem::path> files;
  // One graph file; a compiling backend adds its plan and sources beside it.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".kir") files.push_back(entry.path());
  }
  ASSERT_EQ(files.size(), 1u);
  std::ifstream in(files[0]);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Graph> parsed = ParseGraph(text.str());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->hash().ToString(), files[0].stem().string());
  EXPECT_EQ(parsed->num_nodes(), 5);
  std::filesystem::remove_all(dir);
}

TEST_F(GraphExecutorTest, UnwritableDumpDirWarnsAndRuns) {
  const std::filesystem::path dir = FreshDir("blocked");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "file") << "not a directory";
  cfg_->dump_dir = (dir / "file" / "sub").string();
  ::testing::internal::CaptureStderr();
  Tensor y = AffineStep(Rows(2));
  EXPECT_NO_THROW(mark_step());
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, StartsWith("kiln: warning: cannot write "));
  EXPECT_THAT(y.to_vector<float>(), ElementsAre(3, 5, 7, 9, 11, 13));
  std::filesystem::remove_all(dir);
}

TEST_F(GraphExecutorTest, WarmupCompilesAreNotAStorm) {
  cfg_->debug = 1;
  ::testing::internal::CaptureStderr();
  {
    WarmupScope warmup;  // eight shapes compiled up front, as precompile does for buckets
    for (int64_t rows = 1; rows <= 8; ++rows) {
      Tensor y = AffineStep(Rows(rows));
      mark_step();
    }
  }
  const std::string warmup_out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(Count("UncachedCompile"), 8);
  size_t explained = 0;
  for (size_t at = warmup_out.find("kiln: compile #"); at != std::string::npos;
       at = warmup_out.find("kiln: compile #", at + 1)) {
    ++explained;
  }
  EXPECT_EQ(explained, 8u) << warmup_out;
  ::testing::internal::CaptureStderr();
  for (int step = 0; step < 12; ++step) {
    Tensor y = AffineStep(Rows(1 + step % 8));
    mark_step();
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "");  // cached: no compile explained, no storm warning
  EXPECT_EQ(Count("UncachedCompile"), 8);
  EXPECT_THAT(compile_summary(), HasSubstr("kiln:   compiles: 8 (8 during warm-up)\n"));
}

TEST_F(GraphExecutorTest, StormWarningAfterManyShapes) {
  ::testing::internal::CaptureStderr();
  for (int64_t rows = 1; rows <= 12; ++rows) {
    Tensor y = AffineStep(Rows(rows));
    mark_step();
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, StartsWith("kiln: warning: recompile storm: 10 compiles in 10 steps"));
  EXPECT_THAT(out, HasSubstr("top causes: input 0 shape changed (9x), first compile (1x)"));
  // Once only.
  EXPECT_EQ(out.find("recompile storm", out.find("recompile storm") + 1), std::string::npos);
  EXPECT_EQ(Count("UncachedCompile"), 12);
  EXPECT_THAT(compile_summary(), HasSubstr("kiln:   compiles: 12\n"));
  EXPECT_THAT(compile_summary(), HasSubstr("kiln:     input 0 shape changed: 11\n"));
}

TEST_F(GraphExecutorTest, SmallCacheEvictsAndRecompiles) {
  cfg_->cache_size = 2;
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  // Three different graphs, one step each; returns the last one's result.
  auto three_graphs = [&x] {
    Tensor a = x + 1.0;
    mark_step();
    Tensor b = x * 2.0;
    mark_step();
    Tensor c = x - 3.0;
    mark_step();
    return c.to_vector<float>();
  };
  std::vector<std::vector<float>> results;
  for (int round = 0; round < 2; ++round) results.push_back(three_graphs());
  // A, B, C, A, B, C with room for two: every step misses.
  EXPECT_EQ(Count("UncachedCompile"), 6);
  EXPECT_EQ(Count("CachedCompile"), 0);
  EXPECT_EQ(Count("CompileCacheEviction"), 4);
  EXPECT_EQ(last_compile_explanation(),
            "same graph compiled again: it was evicted from the compile cache (KILN_CACHE_SIZE=2)");
  EXPECT_THAT(results[1], ElementsAre(-2, -1));

  // Room for three: the second round hits.
  clear_compile_cache();
  metrics::reset();
  cfg_->cache_size = 3;
  for (int round = 0; round < 2; ++round) three_graphs();
  EXPECT_EQ(Count("UncachedCompile"), 3);
  EXPECT_EQ(Count("CachedCompile"), 3);
}

TEST_F(GraphExecutorTest, FailedRunLeavesTensorsPending) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
  Tensor index = Tensor::from_vector<int64_t>({0, 5}, {2});
  Tensor bad = x.gather(0, index);
  Tensor good = x * 2.0;
  try {
    mark_step();
    FAIL() << "mark_step should have thrown";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), StartsWith("mark_step: "));
    EXPECT_THAT(e.what(), HasSubstr("gather"));
  }
  EXPECT_TRUE(bad.is_pending());
  EXPECT_TRUE(good.is_pending());  // nothing half-updated
  EXPECT_THROW(bad.to_vector<float>(), Error);
  bad = Tensor();
  mark_step();
  EXPECT_THAT(good.to_vector<float>(), ElementsAre(2, 4, 6));
}

TEST_F(GraphExecutorTest, OneGraphPerBackend) {
  SecondBackend second(/*fail_runs=*/false);
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}) * 2.0;
  Tensor b = second.Upload({3, 4}, {2}) + 1.0;
  mark_step();
  EXPECT_EQ(Count("UncachedCompile"), 2);
  EXPECT_EQ(Count("NodesTraced"), 6);
  EXPECT_EQ(b.impl()->backend(), &second);
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(2, 4));
  EXPECT_THAT(b.to_vector<float>(), ElementsAre(4, 5));
}

TEST_F(GraphExecutorTest, FailureOnOneBackendLeavesEveryTensorPending) {
  SecondBackend failing(/*fail_runs=*/true);
  Tensor a = Tensor::from_vector<float>({1, 2}, {2}) * 2.0;  // interp runs first and succeeds
  Tensor b = failing.Upload({3, 4}, {2}) + 1.0;
  EXPECT_THAT([] { mark_step(); },
              ::testing::ThrowsMessage<Error>(::testing::StrEq("mark_step: second: run failed")));
  EXPECT_TRUE(a.is_pending());
  EXPECT_TRUE(b.is_pending());
  b = Tensor();
  mark_step();
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(2, 4));
}

TEST_F(GraphExecutorTest, PendingBufferLeafNeedsNoCompile) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2});
  Tensor alias = MakePendingTensor(x.value(), x.impl()->backend());
  ASSERT_TRUE(alias.is_pending());
  mark_step();
  EXPECT_FALSE(alias.is_pending());
  EXPECT_EQ(alias.impl()->buffer(), x.impl()->buffer());
  EXPECT_EQ(Count("UncachedCompile"), 0);
  EXPECT_EQ(Count("CachedCompile"), 0);
}

TEST_F(GraphExecutorTest, ClearCompileCacheForgetsEverything) {
  const Tensor x = Rows(2);
  Tensor y = AffineStep(x);
  mark_step();
  clear_compile_cache();
  EXPECT_EQ(last_compile_explanation(), "");
  EXPECT_EQ(GlobalCompileCache().size(), 0u);
  Tensor z = AffineStep(x);
  mark_step();
  EXPECT_EQ(Count("UncachedCompile"), 2);
  EXPECT_EQ(last_compile_explanation(), "first compile of this graph structure (5 nodes)");
}

TEST_F(GraphExecutorTest, ProbeFindsCachedGraphsWithoutRunning) {
  const Tensor x = Rows(2);
  Tensor y = AffineStep(x);
  const CacheProbe miss = ProbeCompileCache({y});
  EXPECT_FALSE(miss.hit);
  EXPECT_EQ(miss.num_nodes, 5);
  EXPECT_TRUE(y.is_pending());
  mark_step();
  Tensor z = AffineStep(x);
  const CacheProbe hit = ProbeCompileCache({z});
  EXPECT_TRUE(hit.hit);
  EXPECT_EQ(hit.key, miss.key);
  EXPECT_TRUE(z.is_pending());
  EXPECT_EQ(Count("UncachedCompile"), 1);
  EXPECT_EQ(Count("CachedCompile"), 0);  // probes are not barriers
}

}  // namespace
}  // namespace kiln
