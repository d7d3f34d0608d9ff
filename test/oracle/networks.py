"""Independent PyTorch re-implementation of the TEG-NAS search supernets (oracle only).

Written from the spec (shared/spec/TEGNAS.md) and checked against the parameter names that the
reference supernets (TinyNetworkDarts / NASNetworkDARTS of VITA-Group/TEGNAS) report from
named_parameters(). Module attribute names are chosen so that named_parameters() yields exactly the
reference names, in the same order; the architecture parameters of the reference are not modelled.

Forward passes take the set of operations to run on every edge explicitly:
  * single path: one op per edge (NAS-Bench-201) or the genotype's 8 (op, input) pairs per cell (DARTS);
  * supernet: several ops per edge, outputs summed with weight 1.
Ops that are not selected never run, so their parameters keep grad None.
"""

import ast
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
NB201_EDGES = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]

DARTS_OPS = ["none", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
             "avg_pool_3x3", "max_pool_3x3"]


def darts_edge_keys(steps=4):
    return ["{}<-{}".format(i, j) for i in range(steps) for j in range(i + 2)]


# ----------------------------------------------------------------------------------------------
# primitive operations


class Zero(nn.Module):
    """`none`: multiplies the (strided) input by 0, so gradients flow as exact zeros."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return x * 0.0


class Identity(nn.Module):
    def forward(self, x):
        return x


class Pool3x3(nn.Module):
    """3x3 pooling, padding 1; the average does not count padded cells. No parameters."""

    def __init__(self, mode, stride):
        super().__init__()
        self.mode = mode
        self.stride = stride

    def forward(self, x):
        if self.mode == "avg":
            return F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        return F.max_pool2d(x, 3, self.stride, 1)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv (no bias) -> BN, parameters under `op.1.*` (conv) and `op.2.*` (BN)."""

    def __init__(self, c_in, c_out, k, stride, pad, dil=1):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, dilation=dil, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    """ReLU -> depthwise conv -> pointwise 1x1 -> BN (`op.1`, `op.2`, `op.3`)."""

    def __init__(self, c_in, c_out, k, stride, pad, dil):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, k, stride=stride, padding=pad, dilation=dil, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x):
        return self.op(x)


class DualSepConv(nn.Module):
    """sep_conv_kxk: SepConv (stride s) then SepConv (stride 1), as `op_a`, `op_b`."""

    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__()
        self.op_a = SepConv(c_in, c_in, k, stride, pad, 1)
        self.op_b = SepConv(c_in, c_out, k, 1, pad, 1)

    def forward(self, x):
        return self.op_b(self.op_a(x))


class FactorizedReduce(nn.Module):
    """Stride-2 skip: ReLU, two strided 1x1 convs (the 2nd on the input shifted by one pixel), concat, BN.

    Channel split is C_out // 2 and C_out - C_out // 2 (so C_out = 1 gives a 0-channel first conv).
    """

    def __init__(self, c_in, c_out):
        super().__init__()
        half = c_out // 2
        # an nn.ReLU module (as in the reference) so that ReLU hooks (linear regions, NASWOT) see it
        self.relu = nn.ReLU()
        self.convs = nn.ModuleList([
            nn.Conv2d(c_in, half, 1, stride=2, bias=False),
            nn.Conv2d(c_in, c_out - half, 1, stride=2, bias=False),
        ])
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


# ----------------------------------------------------------------------------------------------
# NAS-Bench-201


def nb201_op(name, c, stride=1):
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        assert stride == 1
        return Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, stride, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, stride, 1)
    if name == "avg_pool_3x3":
        return Pool3x3("avg", stride)
    raise ValueError(name)


class NB201Cell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.edges = nn.ModuleDict()
        for key in NB201_EDGES:
            self.edges[key] = nn.ModuleList([nb201_op(o, c) for o in NB201_OPS])

    def forward(self, x, edge_ops):
        """edge_ops: 6 lists of op indices, in NB201_EDGES order."""
        nodes = [x]
        for i in range(1, 4):
            acc = None
            for j in range(i):
                key = "{}<-{}".format(i, j)
                for o in edge_ops[NB201_EDGES.index(key)]:
                    y = self.edges[key][o](nodes[j])
                    acc = y if acc is None else acc + y
            if acc is None:
                raise ValueError("node {} has no input".format(i))
            nodes.append(acc)
        return nodes[3]


class ResidualBlock(nn.Module):
    """Reduction block between NB201 stages: conv_b(conv_a(x)) + Conv1x1(AvgPool2x2(x))."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Net(nn.Module):
    def __init__(self, C, N, num_classes, depth=-1, use_stem=True):
        super().__init__()
        self.use_stem = use_stem
        # the reference stem takes min(3, C) input channels
        self.stem = nn.Sequential(nn.Conv2d(min(3, C), C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        chans = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reds = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells = nn.ModuleList()
        c_prev = C
        for idx, (c, red) in enumerate(zip(chans, reds)):
            if depth > 0 and idx >= depth:
                break
            self.cells.append(ResidualBlock(c_prev, c) if red else NB201Cell(c))
            c_prev = c
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x, edge_ops):
        h = self.stem(x) if self.use_stem else x
        for cell in self.cells:
            h = cell(h, edge_ops) if isinstance(cell, NB201Cell) else cell(h)
        h = self.global_pooling(self.lastact(h)).flatten(1)
        return self.classifier(h)


def parse_nb201(arch):
    """`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` -> 6 single-op lists in NB201_EDGES order."""
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise ValueError(arch)
    out = []
    for i, node in enumerate(nodes, start=1):
        items = [t for t in node.strip().strip("|").split("|")]
        if len(items) != i:
            raise ValueError(arch)
        for j, item in enumerate(items):
            op, src = item.split("~")
            if int(src) != j:
                raise ValueError(arch)
            out.append([NB201_OPS.index(op)])
    return out


# ----------------------------------------------------------------------------------------------
# DARTS (NASNet-style cells)


def darts_op(name, c, stride):
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        return Identity() if stride == 1 else FactorizedReduce(c, c)
    if name == "sep_conv_3x3":
        return DualSepConv(c, c, 3, stride, 1)
    if name == "sep_conv_5x5":
        return DualSepConv(c, c, 5, stride, 2)
    if name == "dil_conv_3x3":
        return SepConv(c, c, 3, stride, 2, 2)
    if name == "dil_conv_5x5":
        return SepConv(c, c, 5, stride, 4, 2)
    if name == "avg_pool_3x3":
        return Pool3x3("avg", stride)
    if name == "max_pool_3x3":
        return Pool3x3("max", stride)
    raise ValueError(name)


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self._ops = nn.ModuleList([darts_op(o, c, stride) for o in DARTS_OPS])


class DartsCell(nn.Module):
    def __init__(self, c_pp, c_p, c, reduction, reduction_prev, steps=4, multiplier=4):
        super().__init__()
        self.reduction = reduction
        self.steps = steps
        self.multiplier = multiplier
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.edges = nn.ModuleDict()
        for i in range(steps):
            for j in range(i + 2):
                stride = 2 if reduction and j < 2 else 1
                self.edges["{}<-{}".format(i, j)] = MixedOp(c, stride)

    def forward(self, s0, s1, edge_ops):
        """edge_ops: dict edge key -> list of op indices; missing edges contribute nothing."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self.steps):
            acc = None
            for j in range(i + 2):
                key = "{}<-{}".format(i, j)
                for o in edge_ops.get(key, ()):
                    y = self.edges[key]._ops[o](states[j])
                    acc = y if acc is None else acc + y
            if acc is None:
                raise ValueError("step {} has no input".format(i))
            states.append(acc)
        return torch.cat(states[-self.multiplier:], dim=1)


class DartsNet(nn.Module):
    def __init__(self, C, N, num_classes, steps=4, multiplier=4, stem_multiplier=1, depth=-1, use_stem=True):
        super().__init__()
        self.use_stem = use_stem
        cs = C * stem_multiplier
        # the reference uses 3 input channels with a stem, min(3, C) without
        self.stem = nn.Sequential(nn.Conv2d(3 if use_stem else min(3, C), cs, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(cs))
        chans = [C] * N + [2 * C] + [2 * C] * (N - 1) + [4 * C] + [4 * C] * (N - 1)
        reds = [False] * N + [True] + [False] * (N - 1) + [True] + [False] * (N - 1)
        c_pp, c_p, red_prev = cs, cs, False
        self.cells = nn.ModuleList()
        for idx, (c, red) in enumerate(zip(chans, reds)):
            if depth > 0 and idx >= depth:
                break
            self.cells.append(DartsCell(c_pp, c_p, c, red, red_prev, steps, multiplier))
            c_pp, c_p, red_prev = c_p, multiplier * c, red
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_p), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x, normal_ops, reduce_ops):
        s0 = s1 = self.stem(x) if self.use_stem else x
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce_ops if cell.reduction else normal_ops)
        h = self.global_pooling(self.lastact(s1)).flatten(1)
        return self.classifier(h)


_CELL_RE = re.compile(r"(normal|reduce)\s*=\s*(\[[^\]]*\])")


def parse_genotype(text):
    """DARTS genotype text -> {'normal': [(op, j)] * 8, 'reduce': [...]}."""
    found = {k: ast.literal_eval(v) for k, v in _CELL_RE.findall(text)}
    if set(found) != {"normal", "reduce"}:
        raise ValueError(text)
    for k, pairs in found.items():
        if len(pairs) != 8:
            raise ValueError("{} cell needs 8 pairs".format(k))
        for n, (op, j) in enumerate(pairs):
            if op not in DARTS_OPS or not 0 <= j <= n // 2 + 1:
                raise ValueError((op, j))
    return found


def genotype_edge_ops(pairs):
    """8 (op, input_state) pairs (2 per node) -> dict edge key -> list of op indices."""
    out = {}
    for n, (op, j) in enumerate(pairs):
        out.setdefault("{}<-{}".format(n // 2, j), []).append(DARTS_OPS.index(op))
    return out


def format_genotype(normal, reduce):
    fmt = lambda pairs: "[" + ", ".join("('{}', {})".format(o, j) for o, j in pairs) + "]"
    return ("Genotype(normal={}, normal_concat=[2, 3, 4, 5], reduce={}, reduce_concat=[2, 3, 4, 5])"
            .format(fmt(normal), fmt(reduce)))
