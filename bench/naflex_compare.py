#!/usr/bin/env python3
"""kiln's NaFlex ViT training step next to PyTorch eager's, per bucket, on a shared machine.

Runs `naflex_vit --bench --buckets L` and `naflex_torch_peer.py --buckets L` one after the
other for each bucket, for several rounds, so that both see the same load from the other
tenants of the machine, and reports per bucket the median over the rounds of each median
step time and of the per-round ratio (peer / kiln: how many times faster kiln is).

  python3 bench/naflex_compare.py [--kiln build/examples/naflex_vit/naflex_vit]
                                  [--buckets 64,128,256] [--rounds 3] [--steps 12]
                                  [--threads 2] [--python /usr/bin/python3]
                                  [--device cpu|cuda]

Prints one line per round and bucket, a table, and a JSON line. The peer needs torch
(Debian: python3-torch, hence the default --python); with --device cuda, a torch built
with CUDA.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def kiln_step_ms(args, bucket):
    out = subprocess.run(
        [args.kiln, "--bench", "--buckets", str(bucket), "--steps", str(args.steps),
         "--threads", str(args.threads), "--device", args.device, "--out-dir", args.out_dir],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["median_step_ms"]


def peer_step_ms(args, bucket):
    out = subprocess.run(
        [args.python, os.path.join(HERE, "naflex_torch_peer.py"), "--buckets", str(bucket),
         "--steps", str(args.steps), "--threads", str(args.threads), "--device", args.device],
        check=True, capture_output=True, text=True).stdout
    match = re.search(r"median step ([0-9.]+) ms", out)
    if match is None:
        sys.exit(f"naflex_compare: no step time in the peer's output:\n{out}")
    return float(match.group(1))


def compare(args):
    buckets = [int(b) for b in args.buckets.split(",")]
    kiln = {b: [] for b in buckets}
    peer = {b: [] for b in buckets}
    ratio = {b: [] for b in buckets}
    for r in range(args.rounds):
        for b in buckets:
            p = peer_step_ms(args, b)
            k = kiln_step_ms(args, b)
            peer[b].append(p)
            kiln[b].append(k)
            ratio[b].append(p / k)
            print(f"round {r + 1} bucket {b}: PyTorch {p:.1f} ms, kiln {k:.1f} ms, "
                  f"ratio {p / k:.2f}", flush=True)
    print(f"\nmedians over {args.rounds} rounds ({args.steps} steps per run, "
          f"{args.threads} threads, {args.device})")
    print("bucket   PyTorch ms   kiln ms   ratio (min..max)")
    for b in buckets:
        print(f"{b:6d} {statistics.median(peer[b]):12.1f} {statistics.median(kiln[b]):9.1f}"
              f"   {statistics.median(ratio[b]):.2f} ({min(ratio[b]):.2f}..{max(ratio[b]):.2f})")
    print(json.dumps({
        "device": args.device,
        "rounds": args.rounds,
        "steps": args.steps,
        "threads": args.threads,
        "peer_median_step_ms": {str(b): round(statistics.median(peer[b]), 1) for b in buckets},
        "kiln_median_step_ms": {str(b): round(statistics.median(kiln[b]), 1) for b in buckets},
        "ratio_median": {str(b): round(statistics.median(ratio[b]), 2) for b in buckets},
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiln", default="build/examples/naflex_vit/naflex_vit")
    parser.add_argument("--buckets", default="64,128,256")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--python", default="/usr/bin/python3", help="a Python with torch")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="the device of both runs")
    parser.add_argument("--out-dir", help="where the kiln runs write their CSV and curve "
                        "(default: a temporary directory, removed at the end)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="naflex_compare_") as scratch:
        args.out_dir = args.out_dir or scratch
        compare(args)


if __name__ == "__main__":
    main()
