#!/usr/bin/env bash
# The checks that need a GPU, on a machine that has one but may have no compiler, CMake or
# Debian packages. They run from a bundle that `bash scripts/kiln.sh gpu-bundle` makes on a
# machine with the CUDA toolkit (no GPU needed there):
#
#   bash scripts/gpu_check.sh gpu-bundle/kiln-gpu.tar.xz [out_dir]
#
# From the most to the least important, each under a time limit:
#   parity     the backend parity suite on cuda (every op, dtype and view against interp)
#              and the cuda backend's own tests
#   example    the NaFlex ViT example on cuda: its losses against the cpu backend's, which
#              the bundle carries from the same seed and flags
#   cuda_bench bench/cuda_bench (fused chain and layer_norm against a device copy, matmuls)
#   compare    the ViT step per bucket next to PyTorch eager on the same GPU
#              (bench/naflex_compare.py --device cuda; needs torch with CUDA)
#   lazy       the lazy layer's tests with KILN_DEVICE=cuda
#   difffuzz   random graphs on cuda against interp
# Logs go to out_dir (default $OUT, else gpu-check-out/), one per step, and summary.txt
# gets a line per step. The whole run ends within $KILN_GPU_CHECK_SECONDS (default 540):
# a step gets what is left of that when its own limit is longer, and none when under 15 s.
# The GPU's own libraries (cuBLAS, NVRTC) are looked up on the machine; the bundle brings
# the Debian ones (abseil, OpenBLAS).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle_archive=${1:?usage: bash scripts/gpu_check.sh gpu-bundle/kiln-gpu.tar.xz [out_dir]}
out=${2:-${OUT:-gpu-check-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bundle=$(mktemp -d /tmp/kiln-gpu.XXXXXX)
tar -C "$bundle" -xJf "$bundle_archive" || exit 1
export KILN_CACHE_DIR="$bundle/kiln-cache"

# Folders holding the CUDA 13 libraries that kiln loads: the toolkit's, or the pip wheels'.
cuda_lib_dirs() {
  local roots=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
  roots+=($(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null))
  for root in "${roots[@]}"; do
    [ -d "$root" ] && find -L "$root" -maxdepth 4 \
      \( -name 'libcublas.so.13*' -o -name 'libnvrtc.so.13*' \) -printf '%h\n' 2>/dev/null
  done | sort -u | paste -sd:
}
export LD_LIBRARY_PATH="$bundle/lib:$(cuda_lib_dirs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  echo "unresolved libraries:"
  ldd "$bundle"/bin/* | grep "not found" | sort -u
} > "$out/machine.txt"
cat "$out/machine.txt"
: > "$out/summary.txt"

deadline=$((SECONDS + ${KILN_GPU_CHECK_SECONDS:-540}))
# This script's setting: kiln's programs warn about KILN_* variables they do not know.
export -n KILN_GPU_CHECK_SECONDS
# step NAME SECONDS COMMAND...: runs the command under a time limit, logs it to NAME.log
# and prints its last lines. A skipped test fails the step: on a GPU nothing should skip.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  [ $((deadline - start)) -lt "$limit" ] && limit=$((deadline - start))
  if [ "$limit" -lt 15 ]; then
    echo "$name: not run (out of time)" | tee -a "$out/summary.txt"
    return
  fi
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  local verdict=passed
  [ $rc -ne 0 ] && verdict="FAILED (rc $rc)"
  [ $rc -eq 124 ] && verdict="TIMED OUT after ${limit} s"
  grep -q '^\[  SKIPPED \]' "$out/$name.log" && verdict="FAILED (tests skipped)"
  echo "$name: $verdict in $((SECONDS - start)) s" | tee -a "$out/summary.txt"
  tail -n 4 "$out/$name.log"
}

bin=$bundle/bin
ref=$bundle/ref
step parity 150 "$bin/kiln_backends_tests" --gtest_brief=1 \
  --gtest_filter='*BackendParityTest.*/cuda:CudaBackendTest.*-*WithoutAGpu*'
step example 150 "$bin/naflex_vit" --device cuda $(cat "$ref/flags") --out-dir "$out/example"
step example_losses 20 python3 - "$ref/train_log.csv" "$out/example/train_log.csv" <<'EOF'
# Every step's loss on cuda against the cpu backend's, relative to max(1, |loss|).
import csv, sys
want, got = ([float(r["loss"]) for r in csv.DictReader(open(p))] for p in sys.argv[1:])
assert len(want) == len(got) and want, f"{len(got)} steps on cuda, {len(want)} on cpu"
worst = max(abs(w - g) / max(1.0, abs(w)) for w, g in zip(want, got))
print(f"{len(want)} steps, largest loss difference {worst:.2e} (relative)")
sys.exit(0 if worst < 1e-3 else 1)
EOF
step cuda_bench 90 "$bin/cuda_bench"
step compare 240 python3 bench/naflex_compare.py --kiln "$bin/naflex_vit" --device cuda \
  --rounds 1 --steps 30 --python python3
step lazy 240 env KILN_DEVICE=cuda "$bin/kiln_lazy_tests" --gtest_brief=1
step difffuzz 120 "$bin/kiln_difffuzz" --backends cuda --graphs 400 --seed 1 \
  --out "$out/difffuzz"
echo "--- summary"
cat "$out/summary.txt"
