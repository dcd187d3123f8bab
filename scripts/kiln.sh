#!/usr/bin/env bash
# One entry point for a fresh Debian machine (run as root):
#   bash scripts/kiln.sh example   install what is missing, build, train the NaFlex ViT example
#                                  (extra arguments go to it, e.g. --steps 50 --data fashion-mnist)
#   bash scripts/kiln.sh test      install what is missing, build, run the whole test suite
#   bash scripts/kiln.sh sanitize  install what is missing, build the library and its unit tests
#                                  with AddressSanitizer and UndefinedBehaviorSanitizer, run them
#   bash scripts/kiln.sh tsan      install what is missing, build the library and its unit tests
#                                  with ThreadSanitizer, run the tests that use threads
#   bash scripts/kiln.sh fuzz [seconds] [seed]
#                                  install clang, build the fuzzers (fuzz/) with ASan and UBSan
#                                  and run the IR text fuzzer (default 60 s, random seed)
#   bash scripts/kiln.sh difffuzz [graphs] [seed]
#                                  build kiln_difffuzz and compare random graphs on cpu and
#                                  cuda_emulated against interp (default 2000 graphs, seed 1;
#                                  shrunk mismatches go to $build_dir/difffuzz/)
#   bash scripts/kiln.sh gpu-bundle
#                                  on a machine with the CUDA toolkit (no GPU needed): build
#                                  the programs scripts/gpu_check.sh runs on a GPU machine,
#                                  with the libraries it may lack and the cpu backend's
#                                  losses, into gpu-bundle/kiln-gpu.tar.xz
# Build directories: $KILN_BUILD_DIR (default build/), $KILN_SANITIZE_BUILD_DIR (default
# build-sanitize/), $KILN_TSAN_BUILD_DIR (default build-tsan/), $KILN_FUZZ_BUILD_DIR (default
# build-fuzz/), $KILN_GPU_BUILD_DIR (default build-gpu/). Uses every core (nproc).
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${KILN_BUILD_DIR:-build}
fuzz_build_dir=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
jobs=$(nproc)
# These settings are this script's: kiln's programs warn about KILN_* variables they do not know.
export -n KILN_BUILD_DIR KILN_SANITIZE_BUILD_DIR KILN_TSAN_BUILD_DIR KILN_FUZZ_BUILD_DIR \
  KILN_GPU_BUILD_DIR

# Installs the Debian packages given, or by default those the build and tests need.
install_dependencies() {
  local packages=("$@")
  if [ ${#packages[@]} -eq 0 ]; then
    packages=(cmake g++ make libabsl-dev libxxhash-dev libgtest-dev googletest
              libbenchmark-dev libopenblas-dev zlib1g-dev)
  fi
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "kiln: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

build() {
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "$build_dir" -j "$jobs"
}

case "${1:-}" in
  example)
    install_dependencies
    build -DKILN_BUILD_EXAMPLES=ON -DKILN_BUILD_TESTS=OFF -DKILN_BUILD_BENCHMARKS=OFF
    shift
    # Output files go to naflex_vit_out/ (train_log.csv, loss_curve.svg).
    "$build_dir"/examples/naflex_vit/naflex_vit "$@"
    ;;
  test)
    install_dependencies
    # Every option explicitly: an earlier `example` run left tests off in the cache.
    build -DKILN_BUILD_EXAMPLES=ON -DKILN_BUILD_TESTS=ON -DKILN_BUILD_BENCHMARKS=ON
    ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --no-tests=error
    ;;
  sanitize)
    install_dependencies
    build_dir=${KILN_SANITIZE_BUILD_DIR:-build-sanitize}
    # -O1 -g1 compiles in half the time of -O2 -g under the sanitizers and keeps line numbers.
    build -DKILN_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
          -DKILN_BUILD_EXAMPLES=OFF -DKILN_BUILD_TESTS=ON -DKILN_BUILD_BENCHMARKS=OFF
    # Every finding fails its test. Left out: the consumer tests, which build kiln again as a
    # package without the sanitizers; the cuda_emulated parity tests and all but one shard of
    # differential fuzzing, which spend their time in NVRTC and the host compiler and run
    # generated code, none of it instrumented (the same tests run in the `test` stage).
    # allocator_may_return_null: the out-of-memory tests ask for more than ASan's allocator
    # serves, which must fail as an allocation does (null), not stop the process. Left out
    # too: the test of host values too large, since ASan's operator new stops the process
    # where the real one throws std::bad_alloc.
    UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=allocator_may_return_null=1 \
      ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --no-tests=error \
      -E '^consumer_|BackendParityTest.*/cuda_emulated|DifferentialFuzzShard.*/(cpu_[1-9]|cuda_emulated)|OutOfMemoryTest.HostValues'
    ;;
  tsan)
    install_dependencies
    build_dir=${KILN_TSAN_BUILD_DIR:-build-tsan}
    build -DKILN_SANITIZE=thread -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
          -DKILN_BUILD_EXAMPLES=OFF -DKILN_BUILD_TESTS=ON -DKILN_BUILD_BENCHMARKS=OFF
    # kiln's own threads only (tracing and barriers on several threads, the registries, the
    # caches and metrics they share): the cpu backend runs its loops on one thread, and the
    # tests that ask for more are left out. Its loops run on OpenMP, and Debian's libgomp is
    # not instrumented: TSan would not see a parallel region start or join its threads and
    # would report every parallel loop. Also left out, as in `sanitize`: the consumer tests
    # and the runs that spend their time in NVRTC and generated code, and the test of host
    # values too large.
    KILN_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 allocator_may_return_null=1" \
      ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --no-tests=error \
      -E '^consumer_|BackendParityTest.*/cuda_emulated|DifferentialFuzzShard.*/(cpu_[1-9]|cuda_emulated)|MatmulAcrossThreads|CpuBatchSlicingTest|CpuColumnReduceTest|OutOfMemoryTest.HostValues'
    ;;
  fuzz)
    # clang 16: libFuzzer, and the std::source_location that clang 14 lacks.
    install_dependencies cmake make clang-16 libclang-rt-16-dev libabsl-dev libxxhash-dev
    CXX=clang++-16 cmake -S fuzz -B "$fuzz_build_dir"
    cmake --build "$fuzz_build_dir" -j "$jobs"
    # New inputs collect in the build directory's corpus; the seeds stay as they are.
    # A failing input is written to $fuzz_build_dir/crashes/ and the run exits non-zero.
    mkdir -p "$fuzz_build_dir/corpus/ir_text" "$fuzz_build_dir/crashes"
    "$fuzz_build_dir"/ir_text_fuzzer -max_total_time="${2:-60}" -seed="${3:-0}" \
      -dict=fuzz/ir_text.dict -artifact_prefix="$fuzz_build_dir/crashes/" \
      -print_final_stats=1 "$fuzz_build_dir/corpus/ir_text" fuzz/corpus/ir_text
    ;;
  difffuzz)
    install_dependencies
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_BUILD_TESTS=ON
    cmake --build "$build_dir" -j "$jobs" --target kiln_difffuzz
    mkdir -p "$build_dir/difffuzz"
    KILN_CACHE_DIR=${KILN_CACHE_DIR:-$build_dir/tests/kiln-cache} \
      "$build_dir"/tests/kiln_difffuzz --graphs "${2:-2000}" --seed "${3:-1}" \
      --out "$build_dir/difffuzz"
    ;;
  gpu-bundle)
    install_dependencies
    # Release: the bundle's figures are the ones reported.
    build_dir=${KILN_GPU_BUILD_DIR:-build-gpu}
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DKILN_CUDA=ON \
          -DKILN_BUILD_EXAMPLES=ON -DKILN_BUILD_TESTS=ON -DKILN_BUILD_BENCHMARKS=ON
    programs=(tests/kiln_backends_tests tests/kiln_lazy_tests tests/kiln_difffuzz
              examples/naflex_vit/naflex_vit bench/cuda_bench)
    cmake --build "$build_dir" -j "$jobs" --target "${programs[@]##*/}"
    staging="$build_dir/gpu-bundle"
    rm -rf "$staging"
    mkdir -p "$staging/bin" "$staging/lib" "$staging/ref" gpu-bundle
    for p in "${programs[@]}"; do
      strip --strip-debug -o "$staging/bin/${p##*/}" "$build_dir/$p"
    done
    # The Debian libraries a GPU machine's image may lack; glibc, libstdc++ and NVRTC are
    # the machine's own.
    ldd "$staging"/bin/* | awk '$3 ~ /^\// {print $3}' | sort -u |
      grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libnvrtc)\.so' |
      xargs -I{} cp -L {} "$staging/lib/"
    # The cpu backend's losses, which the GPU run must reproduce.
    echo "--steps 30 --eval-batches 2" > "$staging/ref/flags"
    # shellcheck disable=SC2046
    "$staging/bin/naflex_vit" --device cpu $(cat "$staging/ref/flags") \
      --out-dir "$staging/ref" > "$staging/ref/run.txt"
    tar -C "$staging" -cJf gpu-bundle/kiln-gpu.tar.xz .
    du -h gpu-bundle/kiln-gpu.tar.xz
    echo "on the GPU machine: bash scripts/gpu_check.sh gpu-bundle/kiln-gpu.tar.xz"
    ;;
  *)
    echo "usage: bash scripts/kiln.sh example|test|sanitize|fuzz|difffuzz|gpu-bundle" >&2
    exit 2
    ;;
esac
