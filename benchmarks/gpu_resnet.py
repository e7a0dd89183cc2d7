"""A ResNet-18-style CNN (11 M parameters) on 32x32 images, bf16 + compile: danlu ``fit``
against a hand-written compiled bf16 loop, images/s, the ratio (budget <= 1.05x) and memory.

    python benchmarks/gpu_resnet.py [--batch 256] [--steps 50] [--repeats 5]
    python benchmarks/gpu_resnet.py --device cpu --tiny --steps 3 --repeats 1   # smoke run

Both sides: the same torch module (channels-last), mixed bfloat16, the same danlu SGD
(momentum 0.9, nesterov) update; danlu trains it as ``danlu.Model(module)`` compiled with
``jit_compile=True`` under ``set_global_policy("mixed_bfloat16")``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_common

from danlu import optimizers


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), classes=100):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            for j in range(count):
                layers.append(Block(cin, width, 2 if j == 0 and i > 0 else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main():
    args = gpu_common.arguments(__doc__.splitlines()[0], steps=50, batch=256)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    size = (16, 32, 64, 128) if args.tiny else (64, 128, 256, 512)
    n = args.steps * args.batch
    torch.manual_seed(0)
    x = torch.randn(n, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (n,), device=device)

    def module():
        torch.manual_seed(1)
        return ResNet(size).to(device, memory_format=torch.channels_last)

    sgd = {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}
    gpu_common.fit_against_loop("ResNet-18-style CNN, 32x32 images", "images", 1, module, optimizers.SGD, sgd, x, y, args, device)


if __name__ == "__main__":
    main()
