#!/usr/bin/env bash
# One entry point for a fresh Debian machine (run as root):
#   bash scripts/kiln.sh example   install what is missing, build, train the NaFlex ViT example
#                                  (extra arguments go to it, e.g. --steps 50 --data fashion-mnist)
#   bash scripts/kiln.sh test      install what is missing, build, run the whole test suite
# Build directory: $KILN_BUILD_DIR (default build/). Uses every core (nproc).
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${KILN_BUILD_DIR:-build}
jobs=$(nproc)

install_dependencies() {
  local packages=(cmake g++ make libabsl-dev libxxhash-dev libgtest-dev googletest
                  libbenchmark-dev libopenblas-dev zlib1g-dev)
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
  *)
    echo "usage: bash scripts/kiln.sh example|test" >&2
    exit 2
    ;;
esac
