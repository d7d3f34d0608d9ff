#!/usr/bin/python3
"""Write the reference TEG indicator fixtures for tegnas (deterministic).

    /usr/bin/python3 test/oracle/make_indicator_fixtures.py [--out DIR] [--spaces nb201,darts]

For each space S in {nb201, darts} it writes into DIR (default test/fixtures):
  indicators-S.inputs.safetensors    ntk.x/ntk.y (64 CIFAR-10 training images), val.x/val.y (64 test
                                     images), regions.x (3000 random 1x3x3 crops), and the indices they
                                     were drawn with (float32 / int64)
  indicators-S.weights.safetensors   ntk.<r>.<name> and thin.<r>.<name>, r = 0,1,2: every parameter of
                                     the NTK and thin supernets, PyTorch default init (float32)
  indicators-S.json                  per architecture and repeat: NTK condition number, NTK regression
                                     MSE, linear regions (exact and the reference's float formula) and
                                     NASWOT, computed in float64 from the stored float32 weights/inputs
See test/fixtures/README.md ("Indicator fixtures") for the contract.
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402
import safetensors_io as st  # noqa: E402
from networks import (DARTS_OPS, NB201_OPS, format_genotype, genotype_edge_ops, parse_genotype,  # noqa: E402
                      parse_nb201)

REPO = os.path.dirname(os.path.dirname(HERE))
TRAIN_DATA = "/work/shared/data/cifar10/train-first4000.bin"
TEST_DATA = "/work/shared/data/cifar10/test-first1000.bin"
N_TRAIN, N_TEST = 4000, 1000
BATCH = 64
REGION_BATCHES, REGION_BATCH = 3, 1000
REPEAT = 3
NUM_CLASSES = 10
KXX_COND_LIMIT = 1e12  # cond(K_xx) above this counts as singular for the MSE

SPACES = {
    "nb201": dict(
        space="nas-bench-201",
        ntk=dict(space="nas-bench-201", C=3, N=1, num_classes=NUM_CLASSES, depth=-1, use_stem=True),
        thin=dict(space="nas-bench-201", C=1, N=1, num_classes=NUM_CLASSES, depth=1, use_stem=False),
        ntk_seed=420100, thin_seed=420200, data_seed=4201, arch_seed=4202),
    "darts": dict(
        space="darts",
        ntk=dict(space="darts", C=1, N=1, num_classes=NUM_CLASSES, depth=2, use_stem=True, stem_multiplier=1,
                 steps=4, multiplier=4),
        thin=dict(space="darts", C=1, N=1, num_classes=NUM_CLASSES, depth=2, use_stem=False, stem_multiplier=1,
                  steps=4, multiplier=4),
        ntk_seed=430100, thin_seed=430200, data_seed=4301, arch_seed=4302),
}


def nb201_uniform(op):
    return "|{0}~0|+|{0}~0|{0}~1|+|{0}~0|{0}~1|{0}~2|".format(op)


def nb201_cases(arch_seed):
    cases = [
        ("all-none", nb201_uniform("none")),
        ("all-skip", nb201_uniform("skip_connect")),
        ("all-conv1x1", nb201_uniform("nor_conv_1x1")),
        ("all-conv3x3", nb201_uniform("nor_conv_3x3")),
        ("all-avgpool", nb201_uniform("avg_pool_3x3")),
        ("best-known", mf.A_BEST),
        ("pool-mixed", mf.A_POOL),
        ("pool-heavy",
         "|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|"),
        ("dead-output", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"),
        ("single-skip", "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
    ]
    rng = np.random.RandomState(arch_seed)
    seen = {a for _, a in cases}
    k = 0
    while k < 3:
        ops = [NB201_OPS[i] for i in rng.randint(0, len(NB201_OPS), size=6)]
        arch = "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)
        if arch in seen:
            continue
        seen.add(arch)
        k += 1
        cases.append(("random-{}".format(k), arch))
    return cases


def darts_cases(arch_seed):
    rng = np.random.RandomState(arch_seed)
    ops = DARTS_OPS[1:]  # genotypes never hold `none`

    def cell():
        pairs = []
        for node in range(4):
            for j in sorted(rng.choice(node + 2, size=2, replace=False).tolist()):
                pairs.append((ops[rng.randint(0, len(ops))], int(j)))
        return pairs
    normal = cell()
    reduce = cell()
    return [("darts-v2", mf.G_DARTS_V2), ("every-op", mf.G_EVERY_OP),
            ("random-1", format_genotype(normal, reduce))]


# ----------------------------------------------------------------------------------------------
# data


def load_records(path, n):
    x, y = mf.load_inputs(path, n)
    return x, y


def make_inputs(data_seed):
    """Seeded choice of the NTK / validation batches and the region crops (no augmentation)."""
    train_x, train_y = load_records(TRAIN_DATA, N_TRAIN)
    test_x, test_y = load_records(TEST_DATA, N_TEST)
    rng = np.random.RandomState(data_seed)
    ntk_idx = rng.choice(N_TRAIN, size=BATCH, replace=False).astype(np.int64)
    val_idx = rng.choice(N_TEST, size=BATCH, replace=False).astype(np.int64)
    n = REGION_BATCHES * REGION_BATCH
    img = rng.randint(0, N_TRAIN, size=n)
    ch = rng.randint(0, 3, size=n)
    row = rng.randint(0, 32 - 3 + 1, size=n)
    col = rng.randint(0, 32 - 3 + 1, size=n)
    crops = np.stack([train_x[i, c, r:r + 3, q:q + 3] for i, c, r, q in zip(img, ch, row, col)])
    tensors = {
        "ntk.x": np.ascontiguousarray(train_x[ntk_idx]),
        "ntk.y": train_y[ntk_idx].astype(np.int64),
        "val.x": np.ascontiguousarray(test_x[val_idx]),
        "val.y": test_y[val_idx].astype(np.int64),
        "regions.x": crops.reshape(n, 1, 3, 3).astype(np.float32),
        "ntk.index": ntk_idx,
        "val.index": val_idx,
        "regions.source": np.stack([img, ch, row, col], axis=1).astype(np.int64),
    }
    meta = {
        "train_source": os.path.basename(TRAIN_DATA), "test_source": os.path.basename(TEST_DATA),
        "data_seed": str(data_seed),
        "draw": "numpy RandomState(data_seed): ntk.index = choice({}, {}, replace=False), val.index = "
                "choice({}, {}, replace=False), then for the {} crops randint image [0,{}), channel [0,3), "
                "row [0,30), col [0,30) (four arrays in that order)".format(
                    N_TRAIN, BATCH, N_TEST, BATCH, n, N_TRAIN),
        "normalisation": "(pixel/255 - mean)/std, CIFAR-10 mean (125.3,123.0,113.9)/255 std "
                         "(63.0,62.1,66.7)/255, computed in float64, stored float32",
        "layout": "NCHW, channels R,G,B; regions.x (3000,1,3,3) = x[image, channel, row:row+3, col:col+3]; "
                  "regions.source columns image, channel, row, col; no augmentation",
    }
    return tensors, meta


# ----------------------------------------------------------------------------------------------
# networks


def make_weights(spec):
    """r = 0..REPEAT-1: NTK net under manual_seed(ntk_seed + r), thin net under manual_seed(thin_seed + r)."""
    out = {}
    for r in range(REPEAT):
        for kind in ("ntk", "thin"):
            torch.manual_seed(spec[kind + "_seed"] + r)
            net = mf.build_network(spec[kind])  # PyTorch default init: BN weight 1, bias 0
            for n, p in net.named_parameters():
                out["{}.{}.{}".format(kind, r, n)] = p.detach().to(torch.float32).numpy()
    return out


def load_net(cfg, weights, prefix, dtype):
    sub = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    net = mf.net_from_weights(cfg, sub)
    return net.to(dtype).train()


def arch_forward(space, arch):
    if space == "nb201":
        edge_ops = parse_nb201(arch)
        return lambda net, x: net(x, edge_ops)
    g = parse_genotype(arch)
    normal, reduce = genotype_edge_ops(g["normal"]), genotype_edge_ops(g["reduce"])
    return lambda net, x: net(x, normal, reduce)


class ReluRecorder:
    """Forward hooks on every nn.ReLU module: (output > 0) flattened per sample, in execution order."""

    def __init__(self, net):
        self.codes = []
        self.handles = [m.register_forward_hook(self._hook) for m in net.modules() if isinstance(m, nn.ReLU)]

    def _hook(self, module, inputs, output):
        if isinstance(inputs, tuple) and inputs[0].dim() == 4:
            self.codes.append((output.detach() > 0).reshape(output.shape[0], -1))

    def take(self):
        c = torch.cat(self.codes, 1) if self.codes else None
        self.codes = []
        return c

    def remove(self):
        for h in self.handles:
            h.remove()


# ----------------------------------------------------------------------------------------------
# indicators


def finite_or_none(v):
    v = float(v)
    return v if np.isfinite(v) else None


def ntk_cond(G, float32_reference=False):
    """NTK = G G^T; cond = largest / smallest eigenvalue (ascending eigvalsh), bad on NaN/inf/failure."""
    K = G @ G.T
    try:
        if float32_reference and hasattr(torch, "symeig"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ev = torch.symeig(K)[0]
        else:
            ev = torch.linalg.eigvalsh(K)
    except RuntimeError:
        return dict(cond=None, condBad=True, eigMin=None, eigMax=None)
    cond = (ev[-1] / ev[0]).item()
    bad = not np.isfinite(cond)
    return dict(cond=None if bad else cond, condBad=bad,
                eigMin=finite_or_none(ev[0].item()), eigMax=finite_or_none(ev[-1].item()))


def ntk_mse(Gx, Gy, Tx, Ty, float32_reference=False):
    """P = K_yx K_xx^-1 T_x, mse = mean over rows of sum_k (P - T_y)^2."""
    if Gx.sum().item() == 0 or Gy.sum().item() == 0:
        return dict(mse=None, mseBad=True, mseBadReason="zero cell gradients", kxxCond=None)
    Kxx = Gx @ Gx.T
    Kyx = Gy @ Gx.T
    kc = float(np.linalg.cond(Kxx.double().numpy()))
    kc_out = finite_or_none(kc)
    if not float32_reference and not (kc <= KXX_COND_LIMIT):
        return dict(mse=None, mseBad=True, mseBadReason="cond(K_xx) > 1e12 (treated as singular)", kxxCond=kc_out)
    try:
        inv = torch.inverse(Kxx)
    except RuntimeError:
        return dict(mse=None, mseBad=True, mseBadReason="singular K_xx (torch.inverse failed)", kxxCond=kc_out)
    P = Kyx @ inv @ Tx
    mse = ((P - Ty) ** 2).sum(1).mean(0).item()
    if not np.isfinite(mse):
        return dict(mse=None, mseBad=True, mseBadReason="non-finite mse", kxxCond=kc_out)
    return dict(mse=mse, mseBad=False, mseBadReason=None, kxxCond=kc_out)


def region_counts(codes):
    """codes: (n, bits) bool. Exact distinct rows, and the reference's float32 pairwise formula."""
    packed = np.packbits(codes.numpy(), axis=1)
    exact = int(np.unique(packed, axis=0).shape[0]) if packed.shape[1] else 1
    A = codes.to(torch.float32)
    res = torch.matmul(A, (1 - A).T)
    res = res + res.T  # the reference writes `res += res.T` (aliasing); all entries >= 0, same signs
    res = 1 - torch.sign(res)
    res = res.sum(1)
    res = 1. / res.float()
    return exact, float(res.sum().item())


def naswot(codes):
    """Mellor et al. 2021: K = c c^T + (1-c)(1-c)^T over all ReLU codes, log |det K| (float64)."""
    if codes is None:
        return None, 0.0
    c = codes.to(torch.float64)
    K = c @ c.T + (1 - c) @ (1 - c).T
    sign, logabs = np.linalg.slogdet(K.numpy())
    if sign == 0 or not np.isfinite(logabs):
        return None, float(sign)
    return float(logabs), float(sign)


def one_hot_centred(y, dtype):
    t = torch.nn.functional.one_hot(torch.from_numpy(y), num_classes=NUM_CLASSES).to(dtype)
    return t - t.mean(0)


def compute_repeat(ntk_net, thin_net, forward, data, dtype, float32_reference=False):
    x, vx = data["ntk.x"].to(dtype), data["val.x"].to(dtype)
    Tx, Ty = one_hot_centred(data["ntk.y_np"], dtype), one_hot_centred(data["val.y_np"], dtype)
    rec = ReluRecorder(ntk_net)
    try:
        _, G, cols = mf.per_sample_grads(ntk_net, x.clone(), forward)
        ntk_codes = rec.take()
        _, Gv, cols_v = mf.per_sample_grads(ntk_net, vx.clone(), forward)
        rec.take()
    finally:
        rec.remove()
    assert cols == cols_v
    cell = torch.tensor([c for name, n in cols for c in [("cell" in name)] * n], dtype=torch.bool)
    out = {}
    out.update(ntk_cond(G, float32_reference))
    out.update(ntk_mse(G[:, cell], Gv[:, cell], Tx, Ty, float32_reference))
    # linear regions: thin network, 3 batches of 1000 (batch statistics per batch), patterns pooled
    rec = ReluRecorder(thin_net)
    rows = []
    try:
        with torch.no_grad():
            thin_net.train()
            xr = data["regions.x"].to(dtype)
            for b in range(REGION_BATCHES):
                forward(thin_net, xr[b * REGION_BATCH:(b + 1) * REGION_BATCH])
                c = rec.take()
                rows.append(c if c is not None else torch.zeros(REGION_BATCH, 0, dtype=torch.bool))
    finally:
        rec.remove()
    codes = torch.cat(rows, 0)
    out["regions"], out["regionsReference"] = region_counts(codes)
    out["regionBits"] = int(codes.shape[1])
    out["naswot"], sign = naswot(ntk_codes)
    out["naswotBits"] = int(ntk_codes.shape[1]) if ntk_codes is not None else 0
    out["_naswot_sign"] = sign
    out["_P"] = int(G.shape[1])
    out["_Pcell"] = int(cell.sum().item())
    return out


FIELDS = ["cond", "condBad", "mse", "mseBad", "regions", "regionsReference", "naswot"]
EXTRA = ["eigMin", "eigMax", "kxxCond", "mseBadReason", "regionBits", "naswotBits"]


def summarise(reps):
    def mean_of(key):
        vals = [r[key] for r in reps]
        return None if any(v is None for v in vals) else float(np.mean(vals))

    def ref_mean(key):  # the reference's np.mean with -1 for bad repeats
        return float(np.mean([-1.0 if r[key] is None else r[key] for r in reps]))
    return {
        "cond": mean_of("cond"), "condBad": any(r["condBad"] for r in reps),
        "mse": mean_of("mse"), "mseBad": any(r["mseBad"] for r in reps),
        "regions": float(np.mean([r["regions"] for r in reps])),
        "regionsReference": float(np.mean([r["regionsReference"] for r in reps])),
        "naswot": mean_of("naswot"),
        "condReferenceMean": ref_mean("cond"), "mseReferenceMean": ref_mean("mse"),
        "referenceBad": ref_mean("cond") == -1 or ref_mean("mse") == -1,
    }


def public(rep):
    return {k: rep[k] for k in FIELDS + EXTRA}


def fmt(v, w=10, p=4):
    if v is None:
        return "{:>{w}}".format("null", w=w)
    if isinstance(v, bool):
        return "{:>{w}}".format(str(v), w=w)
    if isinstance(v, int):
        return "{:>{w}d}".format(v, w=w)
    return "{:>{w}.{p}g}".format(v, w=w, p=p)


# ----------------------------------------------------------------------------------------------


def run_space(sname, out_dir, float32_case):
    spec = SPACES[sname]
    inputs, in_meta = make_inputs(spec["data_seed"])
    weights = make_weights(spec)
    prefix = "indicators-" + sname
    files = []

    def write(name, tensors, metadata):
        path = os.path.join(out_dir, name)
        st.save(path, tensors, metadata)
        mf.check_roundtrip(path, tensors, metadata)
        files.append((name, os.path.getsize(path)))
        print("wrote {:<40} {:>10,d} bytes".format(name, os.path.getsize(path)), flush=True)

    write(prefix + ".inputs.safetensors", inputs, in_meta)
    w_meta = {
        "space": spec["space"], "repeat": str(REPEAT), "torch": torch.__version__,
        "ntk_config": json.dumps(spec["ntk"]), "thin_config": json.dumps(spec["thin"]),
        "ntk_seeds": json.dumps([spec["ntk_seed"] + r for r in range(REPEAT)]),
        "thin_seeds": json.dumps([spec["thin_seed"] + r for r in range(REPEAT)]),
        "init": "torch-default: the network built under torch.manual_seed(seed) (conv/linear default "
                "uniform, BN weight 1, bias 0); names = reference named_parameters() without arch parameters",
    }
    write(prefix + ".weights.safetensors", weights, w_meta)

    data = {
        "ntk.x": torch.from_numpy(inputs["ntk.x"]), "val.x": torch.from_numpy(inputs["val.x"]),
        "regions.x": torch.from_numpy(inputs["regions.x"]),
        "ntk.y_np": inputs["ntk.y"], "val.y_np": inputs["val.y"],
    }
    nets64 = [(load_net(spec["ntk"], weights, "ntk.{}.".format(r), torch.float64),
               load_net(spec["thin"], weights, "thin.{}.".format(r), torch.float64)) for r in range(REPEAT)]
    cases = nb201_cases(spec["arch_seed"]) if sname == "nb201" else darts_cases(spec["arch_seed"])
    results = []
    table = []
    for slug, arch in cases:
        forward = arch_forward(sname, arch)
        t0 = time.time()
        reps = [compute_repeat(n, t, forward, data, torch.float64) for n, t in nets64]
        dt = time.time() - t0
        case = {"name": slug, "arch": arch, "repeats": [public(r) for r in reps], "mean": summarise(reps)}
        for r in reps:
            if r["_naswot_sign"] < 0:
                print("  note: {} NASWOT slogdet sign -1".format(slug))
        if slug == float32_case:
            nets32 = [(load_net(spec["ntk"], weights, "ntk.{}.".format(r), torch.float32),
                       load_net(spec["thin"], weights, "thin.{}.".format(r), torch.float32))
                      for r in range(REPEAT)]
            reps32 = [compute_repeat(n, t, forward, data, torch.float32, float32_reference=True)
                      for n, t in nets32]
            case["float32Reference"] = {
                "pipeline": "float32 network and inputs, NTK eigenvalues torch.symeig (float32), K_xx^-1 "
                            "torch.inverse (float32), no cond(K_xx) limit; regions/naswot codes from the "
                            "float32 network",
                "repeats": [public(r) for r in reps32], "mean": summarise(reps32)}
        results.append(case)
        table.append((slug, reps, dt, reps[0]["_P"], reps[0]["_Pcell"]))
        print("  {:<13} {:6.1f}s  P={:<6d} cond {} mse {} regions {} naswot {}".format(
            slug, dt, reps[0]["_P"], [fmt(r["cond"], 0) for r in reps], [fmt(r["mse"], 0) for r in reps],
            [r["regions"] for r in reps], [fmt(r["naswot"], 0, 6) for r in reps]), flush=True)

    doc = {
        "space": spec["space"], "torch": torch.__version__, "dtype": "float64", "repeat": REPEAT,
        "inputs": prefix + ".inputs.safetensors", "weights": prefix + ".weights.safetensors",
        "ntkNetwork": spec["ntk"], "thinNetwork": spec["thin"], "kxxCondLimit": KXX_COND_LIMIT,
        "cases": results,
    }
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    path = os.path.join(out_dir, prefix + ".json")
    with open(path, "w") as f:
        f.write(text)
    files.append((prefix + ".json", os.path.getsize(path)))
    print("wrote {:<40} {:>10,d} bytes".format(prefix + ".json", os.path.getsize(path)), flush=True)
    return table, results, files


def print_table(sname, table, results):
    print("\n{} (float64; per repeat r0/r1/r2)".format(sname))
    hdr = "{:<13} {:>4} {:>28} {:>30} {:>16} {:>30} {:>34} {:>6}".format(
        "case", "rep", "cond", "mse", "regions", "regionsReference", "naswot", "time")
    print(hdr)
    for (slug, reps, dt, P, Pc), case in zip(table, results):
        print("{:<13} {:>4} {:>28} {:>30} {:>16} {:>30} {:>34} {:>5.1f}s".format(
            slug, "", " ".join(fmt(r["cond"], 9, 4) for r in reps), " ".join(fmt(r["mse"], 9, 4) for r in reps),
            " ".join(fmt(r["regions"], 5) for r in reps), " ".join(fmt(r["regionsReference"], 9, 8) for r in reps),
            " ".join(fmt(r["naswot"], 11, 8) for r in reps), dt))
        if "float32Reference" in case:
            r32 = case["float32Reference"]["repeats"]
            print("{:<13} {:>4} {:>28} {:>30} {:>16} {:>30} {:>34}".format(
                "  float32", "", " ".join(fmt(r["cond"], 9, 4) for r in r32),
                " ".join(fmt(r["mse"], 9, 4) for r in r32), " ".join(fmt(r["regions"], 5) for r in r32),
                " ".join(fmt(r["regionsReference"], 9, 8) for r in r32),
                " ".join(fmt(r["naswot"], 11, 8) for r in r32)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures"))
    ap.add_argument("--spaces", default="nb201,darts")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    all_tables = []
    for sname in args.spaces.split(","):
        table, results, _ = run_space(sname, args.out, "best-known" if sname == "nb201" else None)
        all_tables.append((sname, table, results))
    for sname, table, results in all_tables:
        print_table(sname, table, results)
    # self-checks
    for sname, table, results in all_tables:
        for case in results:
            for r in case["repeats"] + case.get("float32Reference", {}).get("repeats", []):
                if round(r["regionsReference"]) != r["regions"]:
                    raise AssertionError("{} {}: regions {} but the reference formula gives {}".format(
                        sname, case["name"], r["regions"], r["regionsReference"]))
    print("\nchecked: regions == round(regionsReference) for every repeat")


if __name__ == "__main__":
    main()
