"""A GPT-style transformer (8 layers, width 512, context 256, vocabulary 8192: 30 M
parameters), bf16 + compile: danlu ``fit`` against a hand-written compiled bf16 loop,
tokens/s, the ratio (budget <= 1.05x) and memory.

    python benchmarks/gpu_gpt.py [--batch 32] [--steps 50] [--repeats 5]
    python benchmarks/gpu_gpt.py --device cpu --tiny --steps 3 --repeats 1   # smoke run

Both sides: the same torch module (pre-norm blocks, causal ``scaled_dot_product_attention``,
tied embeddings), mixed bfloat16, the same danlu AdamW; danlu trains it as
``danlu.Model(module)`` with a sparse crossentropy over every position (Keras' mean over
batch and time, as ``F.cross_entropy`` of the flattened logits), ``jit_compile=True``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_common

from danlu import optimizers


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        attention = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attention.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, vocabulary=8192, context=256, width=512, depth=8, heads=8):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocabulary, width), nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary, bias=False)
        self.head.weight = self.tokens.weight  # tied

    def forward(self, idx):
        positions = torch.arange(idx.shape[1], device=idx.device)
        return self.head(self.norm(self.blocks(self.tokens(idx) + self.positions(positions))))


def main():
    args = gpu_common.arguments(__doc__.splitlines()[0], steps=50, batch=32)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    shape = {"vocabulary": 512, "context": 64, "width": 64, "depth": 2, "heads": 4} if args.tiny else {}
    vocabulary, context = shape.get("vocabulary", 8192), shape.get("context", 256)
    n = args.steps * args.batch
    torch.manual_seed(0)
    stream = torch.randint(0, vocabulary, (n, context + 1), device=device)
    x, y = stream[:, :-1].contiguous(), stream[:, 1:].contiguous()

    def module():
        torch.manual_seed(1)
        return GPT(**shape).to(device)

    adamw = {"learning_rate": 3e-4, "weight_decay": 0.1, "beta_2": 0.95}
    gpu_common.fit_against_loop("GPT-style transformer", "tokens", context, module, optimizers.AdamW, adamw, x, y, args, device)


if __name__ == "__main__":
    main()
