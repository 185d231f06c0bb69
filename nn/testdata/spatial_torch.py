"""Makes spatial_torch.json, PyTorch's answers for deepscope's spatial layers.

Each case holds a layer's configuration, its parameters (PyTorch shapes),
an input and an output gradient, and what PyTorch computes from them: the
output, the input gradient, the parameter gradients and, for BatchNorm,
the buffers after the step. Maps are written channels-last (NHWC), as
deepscope stores them; parameters keep PyTorch's layout.
usage: /usr/bin/python3 spatial_torch.py > spatial_torch.json
"""
import json
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)


def flat(t):
    # The shortest decimal that reads back as the same float32.
    return [float(np.format_float_scientific(v, unique=True)) for v in t.detach().reshape(-1).float().numpy()]


def nhwc(t):
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


def case(name, kind, cfg, m, x, train=True, buffers=()):
    m.train(train)
    x = x.clone().requires_grad_(True)
    params = {k: flat(v) for k, v in m.state_dict().items() if v.dtype == torch.float32}
    y = m(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    return {
        "name": name, "kind": kind, "cfg": cfg, "train": train,
        "x_shape": list(nhwc(x).shape), "x": flat(nhwc(x)),
        "params": params,
        "y_shape": list(nhwc(y).shape), "y": flat(nhwc(y)),
        "dy": flat(nhwc(dy)), "dx": flat(nhwc(x.grad)),
        "grads": {k: flat(p.grad) for k, p in m.named_parameters()},
        "after": {k: flat(m.state_dict()[k]) for k in buffers},
    }


def conv(name, i, o, k, s, p, g, bias, shape):
    m = nn.Conv2d(i, o, k, s, p, groups=g, bias=bias)
    cfg = dict(In=i, Out=o, Kernel=k, Stride=s, Padding=p, Groups=g, Bias=bias)
    return case(name, "conv", cfg, m, torch.randn(*shape))


def convt(name, i, o, k, s, p, op, g, bias, shape):
    m = nn.ConvTranspose2d(i, o, k, s, p, output_padding=op, groups=g, bias=bias)
    cfg = dict(In=i, Out=o, Kernel=k, Stride=s, Padding=p, Groups=g, Bias=bias, OutputPadding=op)
    return case(name, "convT", cfg, m, torch.randn(*shape))


def bn(name, c, train, shape):
    m = nn.BatchNorm2d(c)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.5, 0.5)
        m.running_mean.uniform_(-0.5, 0.5); m.running_var.uniform_(0.5, 1.5)
        m.num_batches_tracked.fill_(3)
    x = torch.randn(*shape) * 2 + torch.arange(c).view(1, c, 1, 1)
    return case(name, "bn", dict(C=c), m, x, train, ("running_mean", "running_var", "num_batches_tracked"))


def gn(name, groups, c, shape):
    m = nn.GroupNorm(groups, c)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.5, 0.5)
    return case(name, "gn", dict(Groups=groups, C=c), m, torch.randn(*shape) + 1)


cases = [
    conv("conv 3x3 s2 p1 bias", 3, 5, 3, 2, 1, 1, True, (2, 3, 7, 6)),
    conv("conv 3x3 groups 2", 4, 6, 3, 1, 1, 2, False, (2, 4, 5, 4)),
    conv("conv depthwise", 4, 4, 3, 1, 1, 4, True, (2, 4, 5, 5)),
    conv("conv 1x1", 4, 3, 1, 1, 0, 1, True, (2, 4, 3, 5)),
    conv("conv 1x1 s2", 4, 6, 1, 2, 0, 1, False, (2, 4, 5, 5)),
    convt("convT 3x3 s2 p1 op1", 4, 3, 3, 2, 1, 1, 1, True, (2, 4, 3, 4)),
    convt("convT 2x2 s2 groups 2", 4, 2, 2, 2, 0, 0, 2, True, (2, 4, 3, 3)),
    bn("bn train", 3, True, (4, 3, 5, 3)),
    bn("bn eval", 3, False, (4, 3, 5, 3)),
    gn("gn 2 groups", 2, 4, (2, 4, 3, 5)),
    gn("gn instance", 3, 3, (3, 3, 2, 2)),
    case("maxpool 3 s2 p1", "maxpool", dict(K=3, S=2, P=1), nn.MaxPool2d(3, 2, 1), torch.randn(2, 3, 7, 6)),
    # Small integers: many ties, which PyTorch breaks by the first maximum.
    case("maxpool ties", "maxpool", dict(K=2, S=1, P=1), nn.MaxPool2d(2, 1, 1), torch.randint(0, 3, (2, 2, 4, 5)).float()),
    case("avgpool 3 s2 p1", "avgpool", dict(K=3, S=2, P=1), nn.AvgPool2d(3, 2, 1), torch.randn(2, 3, 7, 6)),
    case("avgpool 2 s2", "avgpool", dict(K=2, S=2, P=0), nn.AvgPool2d(2, 2, 0), torch.randn(2, 2, 5, 5)),
    case("adaptive 3x2", "adaptive", dict(OH=3, OW=2), nn.AdaptiveAvgPool2d((3, 2)), torch.randn(2, 3, 7, 5)),
    case("adaptive 4x3 from 3x2", "adaptive", dict(OH=4, OW=3), nn.AdaptiveAvgPool2d((4, 3)), torch.randn(1, 2, 3, 2)),
    case("upsample nearest 2", "upsample", dict(Scale=2, Mode="nearest"), nn.Upsample(scale_factor=2, mode="nearest"), torch.randn(2, 2, 3, 4)),
    case("upsample bilinear 2", "upsample", dict(Scale=2, Mode="bilinear"),
         nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), torch.randn(2, 2, 3, 4)),
    case("upsample bilinear 3", "upsample", dict(Scale=3, Mode="bilinear"),
         nn.Upsample(scale_factor=3, mode="bilinear", align_corners=False), torch.randn(1, 3, 2, 5)),
]
print(json.dumps({"torch": torch.__version__, "cases": cases}))
