"""Does torch.compile speed up a training step of the notebook model on this CPU?

    python benchmarks/compile_check.py            # prints first-step (compile) time and median step time

One batch of 1024 real images, the notebook's model and Adam; eager vs torch.compile(model).
"""
import statistics
import sys
import time

import torch
from torch import nn

from rowrnn import build_config, build_model, load_fashion_mnist
from rowrnn.data import normalize
from rowrnn.optim import make_optimizer


def main(steps: int = 30) -> int:
    train, _ = load_fashion_mnist()
    x, y = normalize(train.images[:1024]).unsqueeze(1), train.labels[:1024]       # (1024, 1, 28, 28)
    cfg = build_config("notebook")
    for compiled in (False, True):
        torch.manual_seed(0)
        model = build_model(cfg.model)
        optimizer = make_optimizer(model.parameters(), cfg.train)
        forward = torch.compile(model) if compiled else model

        def step():
            optimizer.zero_grad()
            nn.functional.cross_entropy(forward(x), y).backward()
            optimizer.step()

        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(f"compiled={compiled}: first step {first:.2f} s, then median {statistics.median(times) * 1000:.2f} ms/step "
              f"({torch.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
