#include "backends/cuda/runtime_device.h"

#include "absl/strings/str_cat.h"

#if KILN_HAVE_CUDA_RUNTIME

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/nvrtc_compiler.h"
#include "codegen/cuda_emitter.h"
#include "ir/shape.h"
#include "util/config.h"
#include "util/metrics.h"
#include "util/status_macros.h"

namespace kiln::cuda {
namespace {

// Every CUDA runtime call: the call's text, where it was made and the runtime's message.
#define KILN_CUDA_CHECK(call)                                                             \
  do {                                                                                    \
    const cudaError_t kiln_cuda_error = (call);                                           \
    if (kiln_cuda_error != cudaSuccess) {                                                 \
      return absl::InternalError(absl::StrCat(#call, " at ", __FILE__, ":", __LINE__, ": ", \
                                              cudaGetErrorName(kiln_cuda_error), ": ",    \
                                              cudaGetErrorString(kiln_cuda_error)));      \
    }                                                                                     \
  } while (0)

// cuBLAS, loaded at run time: the functions kiln calls, by their declared types.
struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  // The 64-bit-size entry points: no size of a tensor kiln allows overflows them.
  decltype(&cublasGemmEx_64) gemm = nullptr;
  decltype(&cublasGemmStridedBatchedEx_64) gemm_strided_batched = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

#define KILN_CUBLAS_CHECK(cublas, call)                                                   \
  do {                                                                                    \
    const cublasStatus_t kiln_cublas_status = (call);                                     \
    if (kiln_cublas_status != CUBLAS_STATUS_SUCCESS) {                                    \
      return absl::InternalError(absl::StrCat(#call, " at ", __FILE__, ":", __LINE__, ": ", \
                                              (cublas).status_string(kiln_cublas_status))); \
    }                                                                                     \
  } while (0)

absl::StatusOr<Cublas> LoadCublas() {
  void* lib = nullptr;
  for (const char* name : {"libcublas.so.13", "libcublas.so"}) {
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) break;
  }
  if (lib == nullptr) {
    return absl::UnavailableError(absl::StrCat("cuda: cannot load cuBLAS: ", dlerror()));
  }
  Cublas c;
  auto bind = [&](auto& fn, const char* symbol) -> absl::Status {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, symbol));
    if (fn == nullptr) return absl::UnavailableError(absl::StrCat("cuda: cuBLAS lacks ", symbol));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(bind(c.create, "cublasCreate_v2"));
  RETURN_IF_ERROR(bind(c.destroy, "cublasDestroy_v2"));
  RETURN_IF_ERROR(bind(c.set_stream, "cublasSetStream_v2"));
  RETURN_IF_ERROR(bind(c.set_math_mode, "cublasSetMathMode"));
  RETURN_IF_ERROR(bind(c.gemm, "cublasGemmEx_64"));
  RETURN_IF_ERROR(bind(c.gemm_strided_batched, "cublasGemmStridedBatchedEx_64"));
  RETURN_IF_ERROR(bind(c.status_string, "cublasGetStatusString"));
  return c;  // the library stays loaded for the process
}

// The one stride with offset(i) = i * stride for every matrix of the batch, or -1.
int64_t UniformStride(int64_t batches, absl::Span<const int64_t> out_batch,
                      absl::Span<const int64_t> batch, int64_t matrix) {
  if (batches <= 1) return 0;
  const int64_t stride = codegen::MatmulBatchOffset(1, out_batch, batch, matrix);
  for (int64_t i = 2; i < batches; ++i) {
    if (codegen::MatmulBatchOffset(i, out_batch, batch, matrix) != i * stride) return -1;
  }
  return stride;
}

// A graph's kernels: one library per kernel (each compiled and cached on its own).
class RuntimeModule : public CudaModule {
 public:
  ~RuntimeModule() override {
    for (cudaLibrary_t library : libraries_) cudaLibraryUnload(library);
  }

  void Add(cudaLibrary_t library) { libraries_.push_back(library); }

  absl::StatusOr<const void*> Function(const std::string& name) const override {
    for (cudaLibrary_t library : libraries_) {
      cudaKernel_t kernel = nullptr;
      if (cudaLibraryGetKernel(&kernel, library, name.c_str()) == cudaSuccess) {
        // cudaLaunchKernel takes a library's kernel handle cast to a function pointer.
        return static_cast<const void*>(kernel);
      }
      cudaGetLastError();  // not in this library: clear the error and look in the next
    }
    return absl::NotFoundError(absl::StrCat("cuda: no kernel function ", name));
  }

 private:
  std::vector<cudaLibrary_t> libraries_;
};

class RuntimeDevice : public CudaDevice {
 public:
  static absl::StatusOr<std::unique_ptr<CudaDevice>> Open() {
    int count = 0;
    const cudaError_t probe = cudaGetDeviceCount(&count);
    if (probe != cudaSuccess || count == 0) {
      return absl::UnavailableError(absl::StrCat(
          "no CUDA device: cudaGetDeviceCount: ",
          probe != cudaSuccess ? absl::StrCat(cudaGetErrorName(probe), ": ",
                                              cudaGetErrorString(probe))
                               : std::string("no GPU")));
    }
    std::unique_ptr<RuntimeDevice> d(new RuntimeDevice());
    KILN_CUDA_CHECK(cudaSetDevice(0));
    KILN_CUDA_CHECK(cudaGetDeviceProperties(&d->props_, 0));
    d->arch_ = absl::StrCat("sm_", d->props_.major, d->props_.minor);
    KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&d->stream_, cudaStreamNonBlocking));
    ASSIGN_OR_RETURN(d->cublas_, LoadCublas());
    KILN_CUBLAS_CHECK(d->cublas_, d->cublas_.create(&d->handle_));
    KILN_CUBLAS_CHECK(d->cublas_, d->cublas_.set_stream(d->handle_, d->stream_));
    KILN_CUBLAS_CHECK(d->cublas_, d->cublas_.set_math_mode(
                                      d->handle_, config().allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                      : CUBLAS_DEFAULT_MATH));
    return std::unique_ptr<CudaDevice>(std::move(d));
  }

  ~RuntimeDevice() override {
    cudaStreamSynchronize(stream_);
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) cudaFree(p);
    }
    if (handle_ != nullptr) cublas_.destroy(handle_);
    cudaStreamDestroy(stream_);
  }

  std::string Describe() const override {
    return absl::StrCat("cuda:0 (", props_.name, ", ", arch_, ", ", props_.multiProcessorCount,
                        " SMs)");
  }

  absl::StatusOr<void*> Allocate(size_t bytes) override {
    static metrics::Counter* hits = metrics::GetCounter("CudaAllocatorHits");
    static metrics::Counter* misses = metrics::GetCounter("CudaAllocatorMisses");
    static metrics::Gauge* reserved = metrics::GetGauge("CudaBytesReserved");
    const size_t size = SizeClass(bytes);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<void*>& blocks = free_[size];
      if (!blocks.empty()) {
        p = blocks.back();
        blocks.pop_back();
      }
    }
    if (p != nullptr) {
      hits->Add();
      RETURN_IF_ERROR(PoisonForTesting(p, size));
      return p;
    }
    misses->Add();
    if (cudaMalloc(&p, size) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error before retrying
      ReleaseCached();
      const cudaError_t again = cudaMalloc(&p, size);
      if (again != cudaSuccess) {
        return absl::ResourceExhaustedError(
            absl::StrCat("cuda: out of memory (", cudaGetErrorString(again), "; ", size,
                         " bytes with rounding, ", reserved->value(),
                         " bytes reserved by kiln) allocating ", bytes, " bytes"));
      }
    }
    reserved->Add(static_cast<int64_t>(size));
    RETURN_IF_ERROR(PoisonForTesting(p, size));
    return p;
  }

  void Free(void* ptr, size_t bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    free_[SizeClass(bytes)].push_back(ptr);
  }

  absl::Status CopyToDevice(void* dst, const void* host, size_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream_));
    return absl::OkStatus();
  }

  absl::Status CopyToHost(void* host, const void* src, size_t bytes) override {
    if (bytes > 0) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream_));
    }
    KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }

  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return absl::OkStatus();
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<CudaModule>> LoadModule(const std::vector<std::string>& kernels,
                                                         const std::string& name) override {
    auto module = std::make_shared<RuntimeModule>();
    const std::string preamble = codegen::CudaPreamble();
    std::vector<std::string> units;
    for (const std::string& kernel : kernels) units.push_back(preamble + kernel);
    ASSIGN_OR_RETURN(const std::vector<std::shared_ptr<const CubinResult>> cubins,
                     CompileCudaUnits(units, arch_, name));
    for (const std::shared_ptr<const CubinResult>& cubin : cubins) {
      cudaLibrary_t library = nullptr;
      KILN_CUDA_CHECK(cudaLibraryLoadData(&library, cubin->cubin.data(), nullptr, nullptr, 0,
                                          nullptr, nullptr, 0));
      module->Add(library);
    }
    return std::shared_ptr<CudaModule>(std::move(module));
  }

  absl::Status Launch(const void* function, unsigned grid, unsigned block, void** args) override {
    KILN_CUDA_CHECK(cudaLaunchKernel(function, dim3(grid), dim3(block), args, 0, stream_));
    return absl::OkStatus();
  }

  absl::Status Matmul(const codegen::MatmulCall& call, void* const* buffers) override {
    if (call.dtype != DType::kF32 && call.dtype != DType::kF64) {
      return absl::UnimplementedError(absl::StrCat("cuda: matmul of ", DTypeName(call.dtype),
                                                   " (cuBLAS runs f32 and f64)"));
    }
    const bool f32 = call.dtype == DType::kF32;
    const codegen::MatmulDims d = codegen::GetMatmulDims(call);
    const int64_t m = d.m, n = d.n, k = d.k, batches = d.batches;
    char* out = static_cast<char*>(buffers[call.out]);
    const size_t element = f32 ? 4 : 8;
    if (m == 0 || n == 0 || batches == 0) return absl::OkStatus();
    if (k == 0) {
      KILN_CUDA_CHECK(cudaMemsetAsync(out, 0, batches * m * n * element, stream_));
      return absl::OkStatus();
    }
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B first.
    const cublasOperation_t op_b = call.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = call.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int64_t lda = d.lda, ldb = d.ldb;
    const cudaDataType_t type = f32 ? CUDA_R_32F : CUDA_R_64F;
    const cublasComputeType_t compute =
        f32 ? (config().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F)
            : CUBLAS_COMPUTE_64F;
    const float one_f = 1, zero_f = 0;
    const double one_d = 1, zero_d = 0;
    const void* one = f32 ? static_cast<const void*>(&one_f) : &one_d;
    const void* zero = f32 ? static_cast<const void*>(&zero_f) : &zero_d;
    const char* a = static_cast<const char*>(buffers[call.a]);
    const char* b = static_cast<const char*>(buffers[call.b]);
    const int64_t stride_a = UniformStride(batches, d.out_batch, d.a_batch, m * k);
    const int64_t stride_b = UniformStride(batches, d.out_batch, d.b_batch, k * n);
    if (stride_a >= 0 && stride_b >= 0) {
      KILN_CUBLAS_CHECK(cublas_, cublas_.gemm_strided_batched(
                                     handle_, op_b, op_a, n, m, k, one, b, type, ldb, stride_b, a,
                                     type, lda, stride_a, zero, out, type, n, m * n, batches,
                                     compute, CUBLAS_GEMM_DEFAULT));
      return absl::OkStatus();
    }
    for (int64_t i = 0; i < batches; ++i) {
      const char* am = a + codegen::MatmulBatchOffset(i, d.out_batch, d.a_batch, m * k) * element;
      const char* bm = b + codegen::MatmulBatchOffset(i, d.out_batch, d.b_batch, k * n) * element;
      KILN_CUBLAS_CHECK(cublas_, cublas_.gemm(handle_, op_b, op_a, n, m, k, one, bm, type, ldb,
                                              am, type, lda, zero, out + i * m * n * element,
                                              type, n, compute, CUBLAS_GEMM_DEFAULT));
    }
    return absl::OkStatus();
  }

  // Enough blocks to fill every SM several times over; more work loops inside.
  unsigned MaxGridBlocks() const override {
    return static_cast<unsigned>(props_.multiProcessorCount) * 8;
  }

  std::string CodeKey() const override {
    return absl::StrCat("cuda|", arch_, "|nvrtc ", NvrtcVersion());
  }

 private:
  RuntimeDevice() = default;

  static size_t SizeClass(size_t bytes) {
    constexpr size_t kSmall = 512, kLarge = 2 << 20, kSmallLimit = 1 << 20;
    const size_t b = std::max<size_t>(bytes, 1);
    if (b <= kSmallLimit) return (b + kSmall - 1) / kSmall * kSmall;
    return (b + kLarge - 1) / kLarge * kLarge;
  }

  // Tests fill every allocated block with 0xFF bytes (as the host backends do), so an
  // element no kernel writes shows as NaN or -1.
  absl::Status PoisonForTesting(void* p, size_t size) {
    if (!cpu::PoisonAllocationsForTesting()) return absl::OkStatus();
    KILN_CUDA_CHECK(cudaMemsetAsync(p, 0xFF, size, stream_));
    return absl::OkStatus();
  }

  // Returns every cached block to the driver (before retrying a failed cudaMalloc).
  void ReleaseCached() {
    static metrics::Gauge* reserved = metrics::GetGauge("CudaBytesReserved");
    cudaStreamSynchronize(stream_);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) {
        cudaFree(p);
        reserved->Add(-static_cast<int64_t>(size));
      }
      blocks.clear();
    }
  }

  cudaDeviceProp props_{};
  std::string arch_;
  cudaStream_t stream_ = nullptr;
  Cublas cublas_;
  cublasHandle_t handle_ = nullptr;
  std::mutex mu_;
  absl::flat_hash_map<size_t, std::vector<void*>> free_;  // by size class
};

#undef KILN_CUDA_CHECK
#undef KILN_CUBLAS_CHECK

}  // namespace

absl::StatusOr<std::unique_ptr<CudaDevice>> OpenRuntimeDevice() { return RuntimeDevice::Open(); }

}  // namespace kiln::cuda

#else  // !KILN_HAVE_CUDA_RUNTIME

namespace kiln::cuda {

absl::StatusOr<std::unique_ptr<CudaDevice>> OpenRuntimeDevice() {
  return absl::UnavailableError(
      "no CUDA device: this kiln was built without the CUDA toolkit (KILN_CUDA=AUTO found "
      "none, or KILN_CUDA=OFF)");
}

}  // namespace kiln::cuda

#endif
