#!/usr/bin/env python3
"""The NaFlex ViT training step of ../shared/specs/vit_naflex.md on PyTorch eager: the
peer that examples/naflex_vit --bench is compared with, measured on the same machine.

Same model (patch embedding, bilinear position taps as a 4-row gather, 6 pre-LN blocks of
dim 192 with 3 heads and a tanh-GELU MLP of 768, key padding mask, final LayerNorm, masked
mean pooling, 10-class head), same loss (cross entropy, mean over the batch), same AdamW
(weight decay 0.05 on Linear weights only), fp32, one bucket per run with batch size
token_budget / L. Inputs are random tensors of the step's shapes (padding as in a typical
batch: each sample keeps between L/2 and L valid tokens); the data pipeline is not timed.

  python3 bench/naflex_torch_peer.py [--buckets 64,128,256] [--threads 2] [--steps 12]
                                     [--device cpu|cuda]

Prints one line per bucket and a JSON line: padded tokens per second (B * L / median step
time) per bucket. Needs torch (Debian: python3-torch). On cuda the model, its optimizer
state and each batch live on the GPU (fp32 matmuls, TF32 off, as kiln's default), and
each timed step ends with a synchronisation.

  python3 bench/naflex_torch_peer.py --replay DIR --log OUT/train_log.csv

replays a `naflex_vit --dump-batches DIR` run (its starting weights, batches and learning
rates) and prints PyTorch's loss next to kiln's at every step.
"""
import argparse
import json
import os
import statistics
import time


def choose_openblas_setup():
    """The peer at its best. Debian's torch calls OpenBLAS, whose 0.3.21 falls back to its
    slowest (SSE3) kernels on CPUs newer than it knows; kiln's cpu backend picks the
    AVX-512 or AVX2 kernels in that case (backends/cpu/blas_kernels.h), so the peer gets
    the same. And OpenBLAS's own thread pool fights torch's OpenMP threads for the cores
    (1.5 s instead of 1.0 s per step at L = 128 on 2 cores), so OpenBLAS runs single-
    threaded inside torch's threads, as kiln runs it. Explicit OPENBLAS_* settings win.
    Must run before torch loads OpenBLAS."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        return
    if "avx512f" in flags and "avx512bw" in flags and "avx512dq" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags and "fma" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


choose_openblas_setup()

import torch  # noqa: E402 (after choosing OpenBLAS's setup)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DIM, HEADS, MLP, DEPTH, CLASSES, GRID, FEATURES = 192, 3, 768, 6, 10, 16, 768


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x, key_mask):
        b, l, _ = x.shape
        qkv = self.qkv(x).reshape(b, l, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q * (DIM // HEADS) ** -0.5) @ k.transpose(-2, -1)
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        attn = scores.softmax(dim=-1) @ v
        return self.proj(attn.transpose(1, 2).reshape(b, l, DIM))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(DIM, MLP)
        self.fc2 = nn.Linear(MLP, DIM)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


# Module names as timm's (and kiln's state_dict): blocks.0.attn.qkv.weight, ...
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.mlp = Mlp()

    def forward(self, x, key_mask):
        x = x + self.attn(self.norm1(x), key_mask)
        return x + self.mlp(self.norm2(x))


class NaFlexViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Linear(FEATURES, DIM)
        self.pos_embed = nn.Parameter(torch.randn(GRID, GRID, DIM) * 0.02)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, tokens, pos_index, pos_weight, mask):
        b, l, _ = tokens.shape
        x = self.patch_embed(tokens)
        taps = self.pos_embed.reshape(GRID * GRID, DIM).index_select(0, pos_index)
        x = x + (taps.reshape(b, l, 4, DIM) * pos_weight).sum(2)
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        valid = mask.float().unsqueeze(-1)
        pooled = (x * valid).sum(1) / valid.sum(1).clamp(min=1.0)
        return self.head(pooled)


def batch_for(bucket, budget, gen):
    b = budget // bucket
    lengths = torch.randint(bucket // 2, bucket + 1, (b,), generator=gen)
    mask = torch.arange(bucket)[None, :] < lengths[:, None]
    tokens = torch.randn(b, bucket, FEATURES, generator=gen) * mask[..., None]
    pos_index = torch.randint(0, GRID * GRID, (b * bucket * 4,), generator=gen)
    pos_weight = torch.rand(b, bucket, 4, 1, generator=gen)
    labels = torch.randint(0, CLASSES, (b,), generator=gen)
    return tokens, pos_index, pos_weight, mask, labels


def adamw(model):
    """The spec's AdamW: weight decay 0.05 on the Linear weights only."""
    decay = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    decay_ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in decay_ids]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.999), eps=1e-8)


def load_safetensors(path):
    """The tensors of a safetensors file (the dtypes naflex_vit writes)."""
    import numpy as np
    dtypes = {"F32": np.float32, "I64": np.int64, "BOOL": np.bool_}
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors


def replay(directory, log_path):
    """Trains from naflex_vit's starting weights on its batches (--dump-batches) with its
    learning rates (train_log.csv) and prints both losses per step."""
    import csv
    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    model = NaFlexViT()
    model.load_state_dict(load_safetensors(os.path.join(directory, "init.safetensors")))
    opt = adamw(model)
    worst = 0.0
    for row in rows:
        step = int(row["step"])
        batch = load_safetensors(os.path.join(directory, f"step_{step:03d}.safetensors"))
        for group in opt.param_groups:
            group["lr"] = float(row["lr"])
        opt.zero_grad(set_to_none=True)
        logits = model(batch["tokens"], batch["pos_index"], batch["pos_weight"], batch["mask"])
        w = batch["weights"]
        loss = (F.cross_entropy(logits, batch["labels"], reduction="none") * w).sum() / w.sum()
        loss.backward()
        opt.step()
        diff = abs(loss.item() - float(row["loss"]))
        worst = max(worst, diff)
        print(f"step {step:3d}  bucket {row['bucket']:>3}  torch {loss.item():.4f}  "
              f"kiln {float(row['loss']):.4f}  |diff| {diff:.2e}", flush=True)
    print(json.dumps({"steps": len(rows), "max_abs_loss_diff": worst}))


def median_step_seconds(bucket, budget, steps, device):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = NaFlexViT().to(device)
    opt = adamw(model)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for step in range(steps):
        batch = [t.to(device) for t in batch_for(bucket, budget, gen)]
        tokens, pos_index, pos_weight, mask, labels = batch
        sync()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tokens, pos_index, pos_weight, mask), labels)
        loss.backward()
        opt.step()
        sync()
        if step >= 2:  # the first steps allocate and warm caches
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buckets", default="64,128,256")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--token-budget", type=int, default=4096)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--replay", metavar="DIR",
                        help="replay naflex_vit --dump-batches DIR instead of timing")
    parser.add_argument("--log", metavar="CSV", help="with --replay: that run's train_log.csv")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    if args.replay:
        if not args.log:
            parser.error("--replay needs --log (the run's train_log.csv)")
        replay(args.replay, args.log)
        return
    result = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
              "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
              "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
              "tokens_per_s_padded": {}}
    for bucket in (int(b) for b in args.buckets.split(",")):
        seconds = median_step_seconds(bucket, args.token_budget, args.steps, device)
        rate = args.token_budget // bucket * bucket / seconds
        result["tokens_per_s_padded"][str(bucket)] = round(rate, 1)
        print(f"bucket {bucket}: median step {seconds * 1e3:.1f} ms, {rate:.0f} padded tokens/s",
              flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
