// The cpu backend's observability: KILN_DUMP_DIR plan and source dumps, KILN_PROFILE
// per-kernel timings, and KILN_TRACE spans from the executor and the kernels.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "backends/cpu/kernel_profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lazy/device.h"
#include "lazy/graph_executor.h"
#include "lazy/ops.h"
#include "lazy/tensor.h"
#include "util/config.h"
#include "util/json.h"
#include "util/trace_events.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int kK = 8, kN = 3;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One step of s = sum(tanh(x @ w + 1), dim 1) with x f32[m,kK], w f32[kK,kN] on the cpu
// backend, checked against the same math on the host. Three kernels: the matmul, the
// row kernel, and nothing else (y and s are both outputs).
void RunStep(int m, float scale) {
  std::vector<float> xs(m * kK), ws(kK * kN);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = scale * static_cast<float>(i % 7) - 1;
  for (size_t i = 0; i < ws.size(); ++i) ws[i] = 0.1f * static_cast<float>(i % 5) - 0.2f;
  Tensor x = Tensor::from_vector<float>(xs, {m, kK});
  Tensor w = Tensor::from_vector<float>(ws, {kK, kN});
  Tensor y = tanh(matmul(x, w) + 1);
  Tensor s = sum(y, {1});
  mark_step();
  const std::vector<float> got = s.to_vector<float>();
  ASSERT_THAT(got, SizeIs(m));
  for (int i = 0; i < m; ++i) {
    double want = 0;
    for (int j = 0; j < kN; ++j) {
      double dot = 0;
      for (int k = 0; k < kK; ++k) dot += double(xs[i * kK + k]) * ws[k * kN + j];
      want += std::tanh(dot + 1);
    }
    EXPECT_NEAR(got[i], want, 1e-4) << "row " << i;
  }
}

class CpuProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_device("cpu");
    clear_compile_cache();
    cpu::ClearProfilesForTesting();
    trace_events::ClearForTesting();
    dir_ = fs::path(::testing::TempDir()) / ("kiln_cpu_profile_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    set_device("interp");
    clear_compile_cache();
    cpu::ClearProfilesForTesting();
    trace_events::ClearForTesting();
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(CpuProfileTest, DumpDirHoldsPlanDotAndSourceNamedLikeTheKir) {
  ScopedConfigOverride cfg;
  cfg->dump_dir = (dir_ / "dumps").string();
  RunStep(4, 0.5f);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_ / "dumps")) {
    names.push_back(entry.path().filename().string());
  }
  ASSERT_THAT(names, SizeIs(4)) << ::testing::PrintToString(names);
  std::string hash;
  for (const std::string& n : names) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".kir") hash = n.substr(0, n.size() - 4);
  }
  ASSERT_EQ(hash.size(), 32u) << "no <hash>.kir among " << ::testing::PrintToString(names);
  const fs::path base = dir_ / "dumps" / hash;
  const std::string plan = ReadAll(base.string() + ".plan.txt");
  const std::string dot = ReadAll(base.string() + ".plan.dot");
  const std::string source = ReadAll(base.string() + ".cc");
  EXPECT_THAT(plan, HasSubstr("kernel 0 (matmul)"));
  EXPECT_THAT(plan, HasSubstr("kernel 1 (row)"));
  EXPECT_THAT(plan, HasSubstr("tanh"));
  EXPECT_THAT(dot, HasSubstr("digraph"));
  EXPECT_THAT(dot, HasSubstr("matmul"));
  EXPECT_THAT(dot, HasSubstr("tanh"));
  EXPECT_THAT(source, HasSubstr("kiln_k1"));
  EXPECT_THAT(source, HasSubstr("tanh"));
}

TEST_F(CpuProfileTest, ProfileCountsEveryKernelOfEveryRunAfterTheFirst) {
  ScopedConfigOverride cfg;
  cfg->profile = true;
  constexpr int kM = 5;
  RunStep(kM, 0.25f);
  {
    // Alone, the first run is the one reported.
    const std::vector<cpu::GraphStats> graphs = cpu::ProfileSnapshot();
    ASSERT_THAT(graphs, SizeIs(1));
    EXPECT_EQ(graphs[0].runs, 1);
    EXPECT_TRUE(graphs[0].first_run_counted);
    EXPECT_EQ(graphs[0].run_seconds, graphs[0].first_run_seconds);
    EXPECT_THAT(cpu::ProfileReport(), HasSubstr("1 runs, "));
    EXPECT_THAT(cpu::ProfileReport(), HasSubstr("(the first, with its warm-up)"));
  }
  for (int step = 1; step < 4; ++step) RunStep(kM, 0.25f * (step + 1));
  const std::vector<cpu::GraphStats> graphs = cpu::ProfileSnapshot();
  ASSERT_THAT(graphs, SizeIs(1));
  const cpu::GraphStats& g = graphs[0];
  EXPECT_EQ(g.graph.size(), 32u);
  EXPECT_EQ(g.runs, 3);
  EXPECT_FALSE(g.first_run_counted);
  EXPECT_GT(g.first_run_seconds, 0);
  ASSERT_THAT(g.kernels, SizeIs(2));
  double kernel_seconds = 0;
  for (const cpu::KernelStats& k : g.kernels) {
    EXPECT_EQ(k.calls, 3) << k.info.name;
    EXPECT_GT(k.seconds, 0) << k.info.name;
    kernel_seconds += k.seconds;
  }
  EXPECT_LE(kernel_seconds, g.run_seconds);
  const cpu::KernelStats& mm = g.kernels[0];
  EXPECT_EQ(mm.info.name, "kiln_k0");
  EXPECT_EQ(mm.info.kind, "matmul");
  EXPECT_EQ(mm.info.flops, 2.0 * kM * kN * kK);
  EXPECT_EQ(mm.info.bytes, 4 * (kM * kK + kK * kN + kM * kN));
  const cpu::KernelStats& row = g.kernels[1];
  EXPECT_EQ(row.info.name, "kiln_k1");
  EXPECT_EQ(row.info.kind, "row");
  EXPECT_EQ(row.info.flops, 0);
  EXPECT_EQ(row.info.bytes, 4 * (kM * kN + kM * kN + kM));  // loads mm, stores y and s

  const std::string report = cpu::ProfileReport();
  EXPECT_THAT(report, HasSubstr("kiln profile (cpu): 1 graphs, 3 runs after their first"));
  EXPECT_THAT(report, HasSubstr("graph " + g.graph + " (2 kernels): 3 runs"));
  EXPECT_THAT(report, HasSubstr("not counted"));
  EXPECT_THAT(report, HasSubstr("GFLOP/s"));
  EXPECT_THAT(report, HasSubstr("host "));
  EXPECT_THAT(report, HasSubstr("kiln_k0"));
  EXPECT_THAT(report, HasSubstr("kiln_k1"));
}

TEST_F(CpuProfileTest, NothingIsRecordedWithProfilingAndTracingOff) {
  ScopedConfigOverride cfg;
  cfg->profile = false;
  cfg->trace = "";
  RunStep(6, 1.0f);
  EXPECT_THAT(cpu::ProfileSnapshot(), SizeIs(0));
  EXPECT_EQ(cpu::ProfileReport(), "");
  EXPECT_EQ(trace_events::NumEvents(), 0u);
}

TEST_F(CpuProfileTest, TraceHasExecutorAndKernelSpans) {
  ScopedConfigOverride cfg;
  cfg->trace = (dir_ / "trace.json").string();
  for (int step = 0; step < 3; ++step) RunStep(7, 0.5f);
  ASSERT_TRUE(trace_events::Flush().ok());
  const std::string text = ReadAll(dir_ / "trace.json");
  absl::StatusOr<Json> doc = Json::Parse(text);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const Json* events = doc->Find("traceEvents");
  ASSERT_TRUE(events != nullptr && events->is_array());

  std::vector<const Json*> traces, compiles, executes, kernels;
  for (const Json& e : events->array()) {
    for (const char* key : {"name", "cat", "ph"}) {
      ASSERT_TRUE(e.Find(key) != nullptr && e.Find(key)->is_string()) << key;
    }
    for (const char* key : {"ts", "dur", "pid", "tid"}) {
      ASSERT_TRUE(e.Find(key) != nullptr && e.Find(key)->is_number()) << key;
    }
    EXPECT_EQ(e.Find("ph")->string(), "X");
    const std::string& name = e.Find("name")->string();
    if (name == "trace") traces.push_back(&e);
    if (name == "compile") compiles.push_back(&e);
    if (name == "execute") executes.push_back(&e);
    if (e.Find("cat")->string() == "kernel") kernels.push_back(&e);
  }
  // Three barriers: a trace span between each pair (and one from the previous test's).
  EXPECT_GE(traces.size(), 2u);
  ASSERT_THAT(compiles, SizeIs(1));
  ASSERT_THAT(executes, SizeIs(3));
  ASSERT_THAT(kernels, SizeIs(6));
  const Json* graph =
      compiles[0]->Find("args") ? compiles[0]->Find("args")->Find("graph") : nullptr;
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(graph->string().size(), 32u);
  EXPECT_EQ(compiles[0]->Find("args")->Find("backend")->string(), "cpu");
  for (const Json* e : executes) EXPECT_EQ(e->Find("args")->Find("graph")->string(), graph->string());
  for (size_t i = 0; i < kernels.size(); ++i) {
    const Json& k = *kernels[i];
    EXPECT_EQ(k.Find("name")->string(), i % 2 == 0 ? "kiln_k0" : "kiln_k1");
    EXPECT_EQ(k.Find("args")->Find("kind")->string(), i % 2 == 0 ? "matmul" : "row");
    EXPECT_EQ(k.Find("args")->Find("graph")->string(), graph->string());
    // Inside its run's execute span, on the same thread.
    const Json& run = *executes[i / 2];
    EXPECT_EQ(k.Find("tid")->number(), run.Find("tid")->number());
    EXPECT_GE(k.Find("ts")->number() + 0.001, run.Find("ts")->number());
    EXPECT_LE(k.Find("ts")->number() + k.Find("dur")->number(),
              run.Find("ts")->number() + run.Find("dur")->number() + 0.002);
  }
}

}  // namespace
}  // namespace kiln
