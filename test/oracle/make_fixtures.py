#!/usr/bin/python3
"""Write the PyTorch oracle fixtures for tegnas (deterministic).

    /usr/bin/python3 test/oracle/make_fixtures.py [--out DIR] [--data FILE]

Writes into DIR (default test/fixtures):
  inputs.safetensors                    x (64,3,32,32) float32 normalised CIFAR-10, labels (64,) int64
  <config>.weights.safetensors          every supernet parameter under its reference name (float32)
  <config>--<slug>.safetensors          logits (B,K) and per-sample grads (B,P) of one case (float32,
                                        computed in float64)
See test/fixtures/README.md for the contract.
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import safetensors_io as st  # noqa: E402
from networks import (DARTS_OPS, NB201_EDGES, NB201_OPS, DartsNet, NB201Net,  # noqa: E402
                      darts_edge_keys, format_genotype, genotype_edge_ops, parse_genotype, parse_nb201)

REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DATA = "/work/shared/data/cifar10/train-first4000.bin"
CIFAR10_MEAN = [125.3 / 255, 123.0 / 255, 113.9 / 255]
CIFAR10_STD = [63.0 / 255, 62.1 / 255, 66.7 / 255]
N_IMAGES = 64

# config name -> constructor arguments and init seed
CONFIGS = {
    "nb201-c3n1-k10": dict(space="nas-bench-201", C=3, N=1, num_classes=10, depth=-1, use_stem=True, seed=201010),
    "nb201-c3n1-k100": dict(space="nas-bench-201", C=3, N=1, num_classes=100, depth=-1, use_stem=True, seed=201100),
    "darts-c1n1d2-k10": dict(space="darts", C=1, N=1, num_classes=10, depth=2, use_stem=True, stem_multiplier=1,
                             steps=4, multiplier=4, seed=301010),
}

A_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
A_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
A_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
A_POOL = "|avg_pool_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
A_BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
A_MIXED = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|"

G_EVERY_OP = format_genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_3x3", 0), ("dil_conv_5x5", 2),
            ("avg_pool_3x3", 1), ("max_pool_3x3", 3), ("skip_connect", 2), ("sep_conv_3x3", 4)],
    reduce=[("skip_connect", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 0), ("sep_conv_5x5", 1),
            ("dil_conv_5x5", 2), ("skip_connect", 3), ("dil_conv_3x3", 0), ("sep_conv_3x3", 4)])
G_DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
              "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
              "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
              "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
              "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")

NB201_SUPER_OPS = ["skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
DARTS_SUPER_OPS = DARTS_OPS[1:]

# (config, slug, mode, arch, batch)
CASES = [
    ("nb201-c3n1-k10", "all-none", "single", A_NONE, 64),
    ("nb201-c3n1-k10", "all-skip", "single", A_SKIP, 64),
    ("nb201-c3n1-k10", "all-conv3x3", "single", A_CONV3, 64),
    ("nb201-c3n1-k10", "pool-mixed", "single", A_POOL, 64),
    ("nb201-c3n1-k10", "best-known", "single", A_BEST, 64),
    ("nb201-c3n1-k10", "mixed", "single", A_MIXED, 64),
    ("nb201-c3n1-k100", "mixed", "single", A_MIXED, 64),
    ("nb201-c3n1-k10", "supernet", "supernet", None, 16),
    ("darts-c1n1d2-k10", "every-op", "single", G_EVERY_OP, 64),
    ("darts-c1n1d2-k10", "darts-v2", "single", G_DARTS_V2, 64),
    ("darts-c1n1d2-k10", "supernet", "supernet", None, 16),
]


# ----------------------------------------------------------------------------------------------


def load_inputs(path, n=N_IMAGES):
    rec = 1 + 3 * 32 * 32
    with open(path, "rb") as f:
        raw = f.read(rec * n)
    if len(raw) != rec * n:
        raise ValueError("not enough records in " + path)
    a = np.frombuffer(raw, dtype=np.uint8).reshape(n, rec)
    labels = a[:, 0].astype(np.int64)
    pix = a[:, 1:].reshape(n, 3, 32, 32).astype(np.float64) / 255.0
    mean = np.array(CIFAR10_MEAN).reshape(1, 3, 1, 1)
    std = np.array(CIFAR10_STD).reshape(1, 3, 1, 1)
    x = ((pix - mean) / std).astype(np.float32)
    return x, labels


def build_network(cfg):
    if cfg["space"] == "nas-bench-201":
        return NB201Net(cfg["C"], cfg["N"], cfg["num_classes"], cfg["depth"], cfg["use_stem"])
    return DartsNet(cfg["C"], cfg["N"], cfg["num_classes"], cfg["steps"], cfg["multiplier"],
                    cfg["stem_multiplier"], cfg["depth"], cfg["use_stem"])


def init_network(cfg):
    """PyTorch default init under a fixed seed, then BN affine and classifier bias randomised."""
    torch.manual_seed(cfg["seed"])
    net = build_network(cfg)
    g = torch.Generator().manual_seed(cfg["seed"] + 7)
    with torch.no_grad():
        for _, m in net.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
        net.classifier.bias.uniform_(-0.1, 0.1, generator=g)
    return net


def case_forward(cfg, mode, arch):
    """Return (forward(net, x) -> logits, metadata additions)."""
    meta = {}
    if cfg["space"] == "nas-bench-201":
        if mode == "single":
            edge_ops = parse_nb201(arch)
        else:
            edge_ops = [[NB201_OPS.index(o) for o in NB201_SUPER_OPS] for _ in NB201_EDGES]
            meta["ops"] = json.dumps({k: [NB201_OPS[o] for o in ops] for k, ops in zip(NB201_EDGES, edge_ops)})
        return (lambda net, x: net(x, edge_ops)), meta
    if mode == "single":
        g = parse_genotype(arch)
        normal, reduce = genotype_edge_ops(g["normal"]), genotype_edge_ops(g["reduce"])
    else:
        full = {k: [DARTS_OPS.index(o) for o in DARTS_SUPER_OPS] for k in darts_edge_keys(cfg["steps"])}
        normal, reduce = full, copy.deepcopy(full)
        meta["ops"] = json.dumps({"normal": {k: [DARTS_OPS[o] for o in v] for k, v in normal.items()},
                                  "reduce": {k: [DARTS_OPS[o] for o in v] for k, v in reduce.items()}})
    return (lambda net, x: net(x, normal, reduce)), meta


def per_sample_grads(net, x, forward):
    """One forward of the batch (train mode), then one backward per sample, as lib/procedures/ntk.py.

    Row i = d(sum_k logits[i, k]) / d(every parameter whose name contains 'weight' and whose grad is
    not None), flattened and concatenated in named_parameters() order.
    """
    net.train()
    for p in net.parameters():
        p.grad = None
    logits = forward(net, x)
    rows, columns = [], None
    for i in range(logits.shape[0]):
        logits[i:i + 1].backward(torch.ones_like(logits[i:i + 1]), retain_graph=True)
        cols, parts = [], []
        for name, w in net.named_parameters():
            if "weight" in name and w.grad is not None:
                cols.append([name, w.numel()])
                parts.append(w.grad.reshape(-1).clone())
        if columns is None:
            columns = cols
        elif cols != columns:
            raise RuntimeError("column set changed between samples")
        rows.append(torch.cat(parts))
        for p in net.parameters():
            if p.grad is not None:
                p.grad.zero_()
    return logits.detach(), torch.stack(rows), columns


def weights_dict(net):
    return {n: p.detach().to(torch.float32).numpy() for n, p in net.named_parameters()}


def net_from_weights(cfg, weights):
    net = build_network(cfg)
    names = [n for n, _ in net.named_parameters()]
    if names != list(weights):
        raise RuntimeError("weight names differ from the network's")
    with torch.no_grad():
        for n, p in net.named_parameters():
            p.copy_(torch.from_numpy(weights[n]))
    return net


def check_roundtrip(path, tensors, metadata):
    got, meta = st.load(path)
    assert list(got) == list(tensors), path
    for k, v in tensors.items():
        assert got[k].dtype == np.asarray(v).dtype and np.array_equal(got[k], v), (path, k)
    assert meta == (metadata or {}), path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    ap.add_argument("--data", default=DEFAULT_DATA)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    def write(name, tensors, metadata):
        path = os.path.join(args.out, name)
        st.save(path, tensors, metadata)
        check_roundtrip(path, tensors, metadata)
        print("wrote {:<44} {:>10,d} bytes".format(name, os.path.getsize(path)), flush=True)

    x, labels = load_inputs(args.data)
    write("inputs.safetensors", {"x": x, "labels": labels},
          {"source": os.path.basename(args.data), "images": "first {} records".format(N_IMAGES),
           "normalisation": "(pixel/255 - mean)/std, CIFAR-10 mean (125.3,123.0,113.9)/255 std (63.0,62.1,66.7)/255",
           "layout": "NCHW, channels R,G,B"})

    weights = {}
    for cname, cfg in CONFIGS.items():
        net = init_network(cfg)
        weights[cname] = weights_dict(net)
        meta = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in cfg.items()}
        meta.update(config=cname, torch=torch.__version__,
                    init="torch default under torch.manual_seed(seed); then every BN weight ~ U(0.5,1.5), "
                         "BN bias ~ U(-0.2,0.2), classifier bias ~ U(-0.1,0.1) from Generator(seed+7)")
        write(cname + ".weights.safetensors", weights[cname], meta)

    xt = torch.from_numpy(x).double()
    for cname, slug, mode, arch, batch in CASES:
        cfg = CONFIGS[cname]
        net = net_from_weights(cfg, weights[cname]).double()
        forward, extra = case_forward(cfg, mode, arch)
        logits, grads, columns = per_sample_grads(net, xt[:batch].clone(), forward)
        assert grads.shape[1] == sum(n for _, n in columns)
        meta = {"arch": arch if arch is not None else "supernet", "mode": mode, "batch": str(batch),
                "config": cname, "columns": json.dumps(columns), "compute_dtype": "float64",
                "torch": torch.__version__}
        if mode == "supernet":
            meta["op_weight"] = "1"
        meta.update(extra)
        write("{}--{}.safetensors".format(cname, slug),
              {"logits": logits.numpy().astype(np.float32), "grads": grads.numpy().astype(np.float32)}, meta)
        print("    P = {}".format(grads.shape[1]), flush=True)


if __name__ == "__main__":
    main()
