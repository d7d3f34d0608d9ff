"""Times the reference TEG computation in PyTorch on the CPU (for `npm run bench`) or, with
--device cuda, on the GPU (for bench/gpu-check.sh).

Same shapes and algorithm as the public TEG-NAS code: NTK network C=3 N=1 (64 CIFAR-10 images,
BatchNorm in training mode), one forward then one backward per sample for the `weight` gradients (cond)
and again for the validation batch's `cell` gradients (mse), eigvalsh and inverse in float32; the thin
network on 3 x 1000 random 3x3 crops with the pairwise region formula; repeat 3. Uses the oracle's
networks (test/oracle/networks.py). Prints one JSON line: {arch name: {total, cond, mse, regions}}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "oracle"))
from networks import NB201Net, parse_nb201  # noqa: E402

ARCHS = {
    "all-none": "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "all-skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "all-conv3x3": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "best-known": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "pool-mixed": "|avg_pool_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|",
}


def per_sample(net, x, ops, want):
    """Rows of per-sample gradients of the `want` parameters, and which columns belong to `cell` ones."""
    logits = net(x, ops)
    rows, cell = [], None
    for i in range(x.shape[0]):
        net.zero_grad(set_to_none=True)
        logits[i:i + 1].backward(torch.ones_like(logits[i:i + 1]), retain_graph=True)
        parts = [(n, p.grad.reshape(-1)) for n, p in net.named_parameters() if want(n) and p.grad is not None]
        rows.append(torch.cat([g for _, g in parts]))
        if cell is None:
            cell = torch.cat([torch.full((g.numel(),), "cell" in n, device=g.device) for n, g in parts])
    return torch.stack(rows), cell


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("reference_timing.py: --device cuda but torch.cuda.is_available() is False")

    def sync():
        # GPU work is asynchronous: wait for it before reading the clock.
        if dev.type == "cuda":
            torch.cuda.synchronize()

    repeat = 1 if args.quick else 3
    x, xv = torch.randn(64, 3, 32, 32).to(dev), torch.randn(64, 3, 32, 32).to(dev)
    y, yv = torch.randint(0, 10, (64,)).to(dev), torch.randint(0, 10, (64,)).to(dev)
    crops = torch.randn(3000, 1, 3, 3).to(dev)
    if dev.type == "cuda":
        # One untimed pass so CUDA context creation and kernel loading are not charged to the first arch.
        warm = NB201Net(3, 1, 10).train().to(dev)
        per_sample(warm, x[:4], parse_nb201(ARCHS["all-conv3x3"]), lambda n: "weight" in n)
        torch.linalg.eigvalsh(torch.eye(4, device=dev))
        sync()
    out = {}
    for name, arch in ARCHS.items():
        ops = parse_nb201(arch)
        t = {"cond": 0.0, "mse": 0.0, "regions": 0.0}
        for _ in range(repeat):
            net = NB201Net(3, 1, 10).train().to(dev)
            thin = NB201Net(1, 1, 10, depth=1, use_stem=False).train().to(dev)
            sync()
            t0 = time.time()
            # One loop over the training batch gives both the NTK's and the regression's gradients, as in
            # the reference (lib/procedures/ntk.py); the validation batch needs its own loop.
            G, cell = per_sample(net, x, ops, lambda n: "weight" in n)
            torch.linalg.eigvalsh(G @ G.T)
            sync()
            t1 = time.time()
            Gx = G[:, cell]
            Gy, _ = per_sample(net, xv, ops, lambda n: "weight" in n and "cell" in n)
            Tx = torch.nn.functional.one_hot(y, 10).float()
            Ty = torch.nn.functional.one_hot(yv, 10).float()
            Tx, Ty = Tx - Tx.mean(0), Ty - Ty.mean(0)
            try:
                P = (Gy @ Gx.T) @ torch.inverse(Gx @ Gx.T) @ Tx
                ((P - Ty) ** 2).sum(1).mean()
            except RuntimeError:
                pass
            sync()
            t2 = time.time()
            feats = []
            hooks = [m.register_forward_hook(lambda m, i, o: feats.append(o.detach().reshape(o.shape[0], -1)))
                     for m in thin.modules() if isinstance(m, torch.nn.ReLU)]
            codes = []
            with torch.no_grad():
                for b in range(3):
                    feats.clear()
                    thin(crops[b * 1000:(b + 1) * 1000], ops)
                    codes.append(torch.sign(torch.cat(feats, 1)))
            for h in hooks:
                h.remove()
            A = torch.cat(codes)
            res = A @ (1 - A).T
            res = res + res.T
            (1.0 / (1 - torch.sign(res)).sum(1)).sum()
            sync()
            t3 = time.time()
            t["cond"] += t1 - t0
            t["mse"] += t2 - t1
            t["regions"] += t3 - t2
        t["total"] = t["cond"] + t["mse"] + t["regions"]
        out[name] = t
        print(f"{name:12s} {t['total']:.2f} s (cond {t['cond']:.2f}, mse {t['mse']:.2f}, regions {t['regions']:.2f})", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
