#!/usr/bin/python3
"""Self-checks of the oracle fixtures (not needed to make them).

    /usr/bin/python3 test/oracle/verify_fixtures.py [--dir DIR] [--reference-lib PATH]

1. every file re-reads with safetensors_io; shapes, dtypes and metadata are consistent;
2. grads columns hold exactly the 'weight' parameters of the stem, the selected ops, the blocks /
   preprocessing that the selected path reaches, the final BN and the classifier (unselected ops never
   appear);
3. recomputing each case in float64 reproduces the stored logits and grads;
4. central finite differences (float64) of sum_k logits[i, k] match the stored per-sample gradient
   for a sample of coordinates of several cases;
5. optionally (--reference-lib = the `lib` folder of a VITA-Group/TEGNAS checkout) the reference
   supernet's own cells and ops, loaded with the same weights and driven with 0/1 op weights, give
   the same columns, logits and gradients.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
import safetensors_io as st  # noqa: E402
from networks import DARTS_OPS, NB201_EDGES, NB201_OPS, darts_edge_keys, genotype_edge_ops, parse_genotype, parse_nb201  # noqa: E402,E501


def expected_columns(cfg, mode, arch, weights):
    """Names of the grads columns derived from the architecture alone (no autograd)."""
    names = list(weights)
    if cfg["space"] == "nas-bench-201":
        if mode == "single":
            sel = {k: set(ops) for k, ops in zip(NB201_EDGES, parse_nb201(arch))}
        else:
            sel = {k: {NB201_OPS.index(o) for o in mf.NB201_SUPER_OPS} for k in NB201_EDGES}
        out = []
        for n in names:
            if "weight" not in n:
                continue
            parts = n.split(".")
            if parts[0] == "cells" and parts[2] == "edges":
                if int(parts[4]) not in sel[parts[3]]:
                    continue
            out.append(n)
        return out
    # DARTS: an edge/op is used if selected; preprocess0/1 only if its state feeds a used edge.
    ncells = sum(1 for n in names if n.startswith("cells.") and n.endswith("preprocess1.op.1.weight"))
    if mode == "single":
        g = parse_genotype(arch)
        ops = {"normal": genotype_edge_ops(g["normal"]), "reduce": genotype_edge_ops(g["reduce"])}
    else:
        full = {k: [DARTS_OPS.index(o) for o in mf.DARTS_SUPER_OPS] for k in darts_edge_keys(cfg["steps"])}
        ops = {"normal": full, "reduce": full}
    reds = ([False] * cfg["N"] + [True] + [False] * (cfg["N"] - 1) + [True] + [False] * (cfg["N"] - 1))[:ncells]
    out = []
    for n in names:
        if "weight" not in n:
            continue
        parts = n.split(".")
        if parts[0] == "cells":
            c = int(parts[1])
            eo = ops["reduce" if reds[c] else "normal"]
            used_states = {int(k.split("<-")[1]) for k, v in eo.items() if v}
            if parts[2] == "preprocess0" and 0 not in used_states:
                continue
            if parts[2] == "preprocess1" and 1 not in used_states:
                continue
            if parts[2] == "edges":
                if int(parts[5]) not in eo.get(parts[3], []):
                    continue
        out.append(n)
    return out


def fd_check(cfg, weights, mode, arch, batch, x, stored, columns, sample, n_coords, rng, eps=1e-6):
    net = mf.net_from_weights(cfg, weights).double().train()
    forward, _ = mf.case_forward(cfg, mode, arch)
    params = dict(net.named_parameters())
    offsets, off = {}, 0
    for name, numel in columns:
        offsets[name] = off
        off += numel
    # one coordinate in each of several different tensors
    chosen = rng.choice(len(columns), size=min(n_coords, len(columns)), replace=False)
    worst = 0.0
    for ci in chosen:
        name, numel = columns[ci]
        if numel == 0:
            continue
        k = int(rng.integers(numel))
        p = params[name]
        with torch.no_grad():
            orig = p.view(-1)[k].item()
            p.view(-1)[k] = orig + eps
            fp = forward(net, x[:batch])[sample].sum().item()
            p.view(-1)[k] = orig - eps
            fm = forward(net, x[:batch])[sample].sum().item()
            p.view(-1)[k] = orig
        fd = (fp - fm) / (2 * eps)
        g = float(stored[sample, offsets[name] + k])
        err = abs(fd - g) / max(1e-3, abs(fd))
        worst = max(worst, err)
        if err > 1e-4:
            raise AssertionError("FD mismatch {} [{}]: fd={} stored={}".format(name, k, fd, g))
    return worst


def reference_grads(ref_lib, cfg, weights, mode, arch, x):
    """Per-sample grads through the reference's own cells/ops (macro loop written here)."""
    sys.path.insert(0, ref_lib)
    from models.cell_operations import DARTS_SPACE, NAS_BENCH_201
    from models.cell_searchs.search_cells import NAS201SearchCell
    from models.cell_searchs.search_model_darts import TinyNetworkDarts
    from models.cell_searchs.search_model_darts_nasnet import NASNetworkDARTS

    if cfg["space"] == "nas-bench-201":
        net = TinyNetworkDarts(cfg["C"], cfg["N"], 4, cfg["num_classes"], NAS_BENCH_201, True, True,
                               cfg["depth"], cfg["use_stem"])
        w = torch.zeros(6, len(NB201_OPS), dtype=torch.float64)
        if mode == "single":
            for e, ops in enumerate(parse_nb201(arch)):
                w[e, ops] = 1.0
        else:
            w[:, [NB201_OPS.index(o) for o in mf.NB201_SUPER_OPS]] = 1.0
        # reference edge2index is sorted(keys); for NB201 that equals NB201_EDGES
        assert list(net.cells[0].edge2index) == NB201_EDGES

        def forward(net, inp):
            h = net.stem(inp)
            for cell in net.cells:
                h = cell(h, w) if isinstance(cell, NAS201SearchCell) else cell(h)
            return net.classifier(net.global_pooling(net.lastact(h)).flatten(1))
    else:
        net = NASNetworkDARTS(cfg["C"], cfg["N"], cfg["steps"], cfg["multiplier"], cfg["stem_multiplier"],
                              cfg["num_classes"], DARTS_SPACE, True, True, cfg["depth"], cfg["use_stem"])
        keys = list(net.cells[0].edge_keys)
        INF = 1000.0

        def mk(edge_ops):
            ww = torch.zeros(len(keys), len(DARTS_OPS), dtype=torch.float64)
            aa = torch.full((len(keys), len(DARTS_OPS)), -INF, dtype=torch.float64)
            for k, ops in edge_ops.items():
                for o in ops:
                    ww[keys.index(k), o] = 1.0
                    aa[keys.index(k), o] = 0.0
            return ww, aa
        if mode == "single":
            g = parse_genotype(arch)
            nw, rw = mk(genotype_edge_ops(g["normal"])), mk(genotype_edge_ops(g["reduce"]))
        else:
            full = {k: [DARTS_OPS.index(o) for o in mf.DARTS_SUPER_OPS] for k in keys}
            nw = rw = mk(full)

        def forward(net, inp):
            s0 = s1 = net.stem(inp)
            for cell in net.cells:
                ww, aa = rw if cell.reduction else nw  # (the reference's own forward passes reduce masks here)
                s0, s1 = s1, cell.forward_darts(s0, s1, ww, aa)
            return net.classifier(net.global_pooling(net.lastact(s1)).flatten(1))

    ref_names = [n for n, _ in net.named_parameters() if "arch" not in n]
    assert ref_names == list(weights), "reference parameter names differ"
    with torch.no_grad():
        for n, p in net.named_parameters():
            if n in weights:
                p.copy_(torch.from_numpy(weights[n]))
    net = net.double()
    for n, p in net.named_parameters():
        if "arch" in n:
            p.requires_grad_(False)
    return mf.per_sample_grads(net, x, forward)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(mf.REPO, "test", "fixtures"))
    ap.add_argument("--reference-lib", default=None)
    ap.add_argument("--skip-recompute", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    rng = np.random.default_rng(12345)

    inp, meta = st.load(os.path.join(args.dir, "inputs.safetensors"))
    x = inp["x"]
    assert x.shape == (64, 3, 32, 32) and x.dtype == np.float32
    assert inp["labels"].shape == (64,) and inp["labels"].dtype == np.int64
    x_ref, lab_ref = mf.load_inputs(mf.DEFAULT_DATA)
    assert np.array_equal(x, x_ref) and np.array_equal(inp["labels"], lab_ref)
    xt = torch.from_numpy(x).double()
    print("inputs ok; per-channel mean", x.mean(axis=(0, 2, 3)).round(3), "std", x.std(axis=(0, 2, 3)).round(3))

    weights = {}
    for cname, cfg in mf.CONFIGS.items():
        w, wmeta = st.load(os.path.join(args.dir, cname + ".weights.safetensors"))
        net = mf.build_network(cfg)
        assert [n for n, _ in net.named_parameters()] == list(w)
        for n, p in net.named_parameters():
            assert tuple(p.shape) == w[n].shape and w[n].dtype == np.float32, n
        assert wmeta["config"] == cname
        weights[cname] = w
        bnw = [v for n, v in w.items() if n.endswith(".weight") and v.ndim == 1]
        assert all(((b >= 0.5) & (b <= 1.5)).all() for b in bnw)
        print("weights {} ok: {} tensors, {} values".format(cname, len(w), sum(v.size for v in w.values())))

    for cname, slug, mode, arch, batch in mf.CASES:
        cfg = mf.CONFIGS[cname]
        fname = "{}--{}.safetensors".format(cname, slug)
        t, m = st.load(os.path.join(args.dir, fname))
        cols = json.loads(m["columns"])
        P = sum(n for _, n in cols)
        assert m["config"] == cname and m["mode"] == mode and int(m["batch"]) == batch
        assert t["logits"].shape == (batch, cfg["num_classes"]) and t["grads"].shape == (batch, P)
        assert t["logits"].dtype == np.float32 and t["grads"].dtype == np.float32
        assert (mode == "supernet") == ("ops" in m)
        names = [n for n, _ in cols]
        assert names == expected_columns(cfg, mode, arch, weights[cname]), fname
        for n, k in cols:
            assert weights[cname][n].size == k
        line = "{:<42} B={:<3} P={:<6}".format(fname, batch, P)
        if not args.skip_recompute:
            net = mf.net_from_weights(cfg, weights[cname]).double()
            fwd, _ = mf.case_forward(cfg, mode, arch)
            lg, gr, cc = mf.per_sample_grads(net, xt[:batch].clone(), fwd)
            assert cc == cols
            assert np.array_equal(lg.numpy().astype(np.float32), t["logits"])
            assert np.array_equal(gr.numpy().astype(np.float32), t["grads"])
            line += " recompute=bit-identical"
        if slug in ("best-known", "mixed", "every-op", "darts-v2", "supernet", "pool-mixed"):
            worst = fd_check(cfg, weights[cname], mode, arch, batch, xt, t["grads"], cols,
                             sample=int(rng.integers(batch)), n_coords=12, rng=rng)
            line += " fd-relerr<={:.1e}".format(worst)
        if args.reference_lib:
            lg, gr, cc = reference_grads(args.reference_lib, cfg, weights[cname], mode, arch, xt[:batch].clone())
            assert cc == cols, "reference columns differ"
            el = np.abs(lg.numpy() - t["logits"]).max() / max(1e-12, np.abs(lg.numpy()).max())
            eg = np.abs(gr.numpy() - t["grads"]).max() / max(1e-12, np.abs(gr.numpy()).max())
            assert el < 1e-6 and eg < 1e-6, (el, eg)
            line += " ref: logits {:.1e} grads {:.1e}".format(el, eg)
        print(line, flush=True)
    print("all fixture checks passed")


if __name__ == "__main__":
    main()
