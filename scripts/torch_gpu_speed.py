"""PyTorch's speed on a GPU for `deepscope bench --device cuda` to be compared with.

The MedMNIST ResNet-18 (3x3 stride-1 stem, no max-pool; the model of
shared/reference/torch_pbc.py) at batch 128, float32 with TF32 on for
convolutions and matrix products, channels_last, cudnn.benchmark on. Prints one
JSON line per figure: what (train or infer), size, batch, img_per_s.

usage: python3 scripts/torch_gpu_speed.py [sizes=28,64] [iters=50]
"""
import json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.c1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.b1 = nn.BatchNorm2d(o)
        s.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.b2 = nn.BatchNorm2d(o)
        s.sc = nn.Sequential()
        if st != 1 or i != o:
            s.sc = nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))

    def forward(s, x):
        y = F.relu(s.b1(s.c1(x)))
        return F.relu(s.b2(s.c2(y)) + s.sc(x))


class ResNet18(nn.Module):
    def __init__(s, n=8):
        super().__init__()
        s.c = nn.Conv2d(3, 64, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(64)
        L = []; i = 64
        for o, st in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
            L.append(Block(i, o, st)); i = o
        s.layers = nn.Sequential(*L)
        s.fc = nn.Linear(512, n)

    def forward(s, x):
        x = s.layers(F.relu(s.b(s.c(x))))
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    sizes = [int(v) for v in (sys.argv[1] if len(sys.argv) > 1 else "28,64").split(",")]
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    dev = "cuda"
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0),
                      "cudnn": torch.backends.cudnn.version()}), flush=True)
    batch = 128
    for size in sizes:
        torch.manual_seed(0)
        model = ResNet18().to(dev).to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x = torch.randn(batch, 3, size, size, device=dev).to(memory_format=torch.channels_last)
        y = torch.randint(0, 8, (batch,), device=dev)
        for phase in ("train", "infer"):
            def step():
                if phase == "train":
                    model.train(); loss = F.cross_entropy(model(x), y)
                    opt.zero_grad(); loss.backward(); opt.step()
                else:
                    model.eval()
                    with torch.no_grad():
                        model(x)
            for _ in range(10):
                step()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(iters):
                step()
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            print(json.dumps({"what": phase, "model": "resnet18-medmnist", "size": size, "batch": batch,
                              "img_per_s": round(iters * batch / dt, 1), "tf32": True, "channels_last": True}), flush=True)


if __name__ == "__main__":
    main()
