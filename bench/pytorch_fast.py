"""PyTorch replica of simdnet's fast CIFAR-10 recipe (issue #14), the reference.

The same recipe as simdnet's building blocks (src/nn/fast_net.ts,
src/train/whitening.ts, augment_flip_translate.ts, lookahead.ts, tta.ts),
after Keller Jordan's airbench94 (arXiv 2404.00498), written independently:

- network: a frozen 2x2 `valid` whitening conv (eigenvectors of the centred
  2x2x3 patch covariance of the first 5000 training images over
  sqrt(eigenvalue + eps), eps 5e-4 of the mean patch variance, and their
  negatives; bias -W.mean so outputs are centred), GELU, three groups of
  conv 3x3 (no bias, partial dirac init) -> max-pool 2 -> BatchNorm ->
  GELU -> conv 3x3 -> BatchNorm -> GELU at widths 64/256/256 x --width,
  BatchNorm eps 1e-12, momentum 0.4 (Keras 0.6), scale frozen at 1; a
  final 3x3 max-pool, a bias-free linear head and a fixed 1/9 scale;
- training: SGD with Nesterov momentum 0.85 and weight decay 0.0153 per
  1024 images, learning rate 11.5 per 1024 images (both divided by
  1024 (1 + 1 / (1 - momentum)) so that the step size does not depend on
  the momentum), BatchNorm biases at 64x the learning rate (not the decay),
  the summed cross-entropy with label smoothing 0.2, a triangular schedule
  (0.2 -> 1 over the first 23% of steps, then down to 0.07), lookahead
  every 5 steps with decay 0.95^5 (step/total)^3 and the slow weights at
  the end; batches of 1024, 9.9 epochs;
- augmentation: random translation by up to 2 pixels with reflection
  padding, the alternating flip (one random bit per image, inverted on odd
  epochs);
- evaluation: held-out accuracy without and with test-time augmentation
  (mirror and one-pixel reflect translations, weights 1/2, 1/4, 1/4 of the
  softmax probabilities, as simdnet's tta.ts).

Data: CIFAR-10 binary batches (--data, default env CIFAR10_DIR), the five
training batches in order with the last --held-out images held out:
10,000 (data_batch_5, as bench/transfer.ts splits the shared training-only
copy) by default, 5,000 for the split of simdnet's `train --recipe fast`
(Keras' validation_split 0.1). The held-out images are used for nothing
but the printed accuracies.

Prints one line per epoch (learning-rate factor, mean training loss and
accuracy, held-out accuracy, seconds) and at the end a line
"@@bench {json}" with every figure. Run it through bench/recipe_pytorch.ts,
which sets up the environment as bench/_pytorch.ts does for the other
PyTorch benchmarks.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PREFIX = "@@bench "


def load_batches(directory: str, names: list, limit: int):
    """Images as uint8 NCHW and labels as int64, from CIFAR-10 .bin files."""
    parts = []
    for name in names:
        raw = np.fromfile(os.path.join(directory, name), dtype=np.uint8)
        parts.append(raw.reshape(-1, 3073))
    records = np.concatenate(parts)[:limit]
    labels = torch.from_numpy(records[:, 0].astype(np.int64))
    images = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).copy())
    return images, labels


def whitening(images: torch.Tensor, eps_rel: float = 5e-4, limit: int = 5000):
    """The stem's weight (out, in, 2, 2) and bias, from the first images."""
    x = images[:limit]
    d = 12
    total = torch.zeros(d, dtype=torch.float64)
    products = torch.zeros(d, d, dtype=torch.float64)
    count = 0
    for start in range(0, len(x), 500):
        chunk = x[start:start + 500].double() / 255
        # (n, c, 31, 31, dy, dx) -> rows ordered (dy, dx, c) like Keras.
        p = chunk.unfold(2, 2, 1).unfold(3, 2, 1)
        p = p.permute(0, 2, 3, 4, 5, 1).reshape(-1, d)
        total += p.sum(0)
        products += p.T @ p
        count += len(p)
    mean = total / count
    cov = products / count - torch.outer(mean, mean)
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0), vectors.flip(1).T  # largest first, rows
    eps = eps_rel * cov.trace() / d
    big = vectors.abs().argmax(1)
    signs = torch.sign(vectors[torch.arange(d), big])
    filters = vectors * (signs / torch.sqrt(values.clamp(min=0) + eps))[:, None]
    filters = torch.cat([filters, -filters])  # (24, 12) over (dy, dx, c)
    bias = -(filters @ mean)
    weight = filters.reshape(24, 2, 2, 3).permute(0, 3, 1, 2)
    return weight.float().contiguous(), bias.float()


class Scale(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


def conv3(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    with torch.no_grad():
        # Partial dirac: the first `cin` filters pass their channel through.
        nn.init.dirac_(conv.weight[:min(cin, cout)])
    return conv


def batch_norm(c: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, eps=1e-12, momentum=0.4)
    bn.weight.requires_grad = False
    return bn


def fast_net(width: float, stem_weight, stem_bias) -> nn.Sequential:
    widths = [max(1, round(b * width)) for b in (64, 256, 256)]
    stem = nn.Conv2d(3, 24, 2, bias=True)
    with torch.no_grad():
        stem.weight.copy_(stem_weight)
        stem.bias.copy_(stem_bias)
    stem.weight.requires_grad = False
    stem.bias.requires_grad = False
    layers = [stem, nn.GELU()]
    cin = 24
    for w in widths:
        layers += [conv3(cin, w), nn.MaxPool2d(2), batch_norm(w), nn.GELU(),
                   conv3(w, w), batch_norm(w), nn.GELU()]
        cin = w
    layers += [nn.MaxPool2d(3), nn.Flatten(), nn.Linear(cin, 10, bias=False),
               Scale(1 / 9)]
    return nn.Sequential(*layers)


def augment(images, indices, flips, epoch, pad, generator, memory_format):
    """Float batch of the images at `indices`: alternating flip, then shift."""
    x = images[indices].float() / 255
    mirror = (flips[indices] ^ (epoch & 1)).bool()
    x[mirror] = x[mirror].flip(3)
    if pad == 0:
        return x.contiguous(memory_format=memory_format)
    padded = F.pad(x, (pad,) * 4, mode="reflect")
    shifts = torch.randint(0, 2 * pad + 1, (len(x), 2), generator=generator)
    out = torch.empty_like(x)
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            sel = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero()[:, 0]
            if len(sel):
                out[sel] = padded[sel, :, dy:dy + 32, dx:dx + 32]
    return out.contiguous(memory_format=memory_format)


def lr_factor(step: int, total: int) -> float:
    warmup = int(total * 0.23)
    if step < warmup:
        f = step / warmup
        return 0.2 * (1 - f) + f
    f = (step - warmup) / max(1, total - warmup)
    return (1 - f) + 0.07 * f


def tta_views(x):
    """(weight, view) pairs: mirror, and reflect-shifted by one pixel."""
    padded = F.pad(x, (1,) * 4, mode="reflect")
    shifted = [padded[:, :, 0:32, 0:32], padded[:, :, 2:34, 2:34]]
    views = [(0.25, x), (0.25, x.flip(3))]
    for s in shifted:
        views += [(0.125, s), (0.125, s.flip(3))]
    return views


def evaluate(model, images, labels, tta: bool, memory_format, batch=1000):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = (images[start:start + batch].float() / 255).contiguous(
                memory_format=memory_format)
            if tta:
                probs = sum(w * torch.softmax(model(v.contiguous(
                    memory_format=memory_format)), 1) for w, v in tta_views(x))
            else:
                probs = model(x)
            correct += (probs.argmax(1) == labels[start:start + batch]).sum()
    return int(correct) / len(images)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("CIFAR10_DIR"))
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--epochs", type=float, default=9.9)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--held-out", type=int, default=10000,
                   help="hold out the last N of the 50,000 images")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training images (smoke tests)")
    p.add_argument("--held-out-limit", type=int, default=None)
    p.add_argument("--epoch-eval", choices=("yes", "no"), default="yes",
                   help="held-out accuracy after each epoch (timed apart)")
    p.add_argument("--channels-last", choices=("yes", "no"), default="yes")
    p.add_argument("--profile-steps", type=int, default=0,
                   help="instead of a run: time this many training steps "
                        "on random images of --batch (no data needed) with "
                        "torch.profiler and print its table by op and shape")
    a = p.parse_args()
    if not a.data and not a.profile_steps:
        sys.exit("pass --data DIR (cifar-10-batches-bin) or set CIFAR10_DIR")
    return a


def make_optimizer(model, batch: int, total_steps: int):
    """airbench's SGD: rates per 1024 images of the summed loss."""
    momentum = 0.85
    # Nesterov momentum m lengthens steps by 1 + 1 / (1 - m) under a
    # constant gradient; dividing by it keeps the step size independent
    # of the momentum.
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = 11.5 / kilostep
    wd = 0.0153 * batch / kilostep
    lr_bias = lr * 64
    bn_ids = {id(m.bias) for m in model.modules()
              if isinstance(m, nn.BatchNorm2d)}
    trained = [v for v in model.parameters() if v.requires_grad]
    biases = [v for v in trained if id(v) in bn_ids]
    others = [v for v in trained if id(v) not in bn_ids]
    # torch's SGD multiplies the decay by the group's lr: dividing by it
    # leaves the decay per step `wd` times the schedule in both groups.
    optimizer = torch.optim.SGD(
        [dict(params=biases, lr=lr_bias, weight_decay=wd / lr_bias),
         dict(params=others, lr=lr, weight_decay=wd / lr)],
        momentum=momentum, nesterov=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps))
    return optimizer, scheduler, lr


class Lookahead:
    """Slow copies of every float tensor of the model's state."""

    def __init__(self, model) -> None:
        self.model = model
        self.slow = {k: v.detach().clone()
                     for k, v in model.state_dict().items()
                     if v.is_floating_point()}

    def update(self, decay: float) -> None:
        with torch.no_grad():
            state = self.model.state_dict()
            for k, s in self.slow.items():
                s.lerp_(state[k], 1 - decay)
                state[k].copy_(s)


class Run:
    """One training run: data, model, optimizer and the step count."""

    def __init__(self, a) -> None:
        self.a = a
        self.generator = torch.Generator().manual_seed(a.seed)
        self.memory_format = (torch.channels_last if a.channels_last == "yes"
                              else torch.contiguous_format)
        x, y = load_batches(
            a.data, [f"data_batch_{i}.bin" for i in range(1, 6)], None)
        cut = len(x) - a.held_out
        if not 0 < cut < len(x):
            sys.exit(f"--held-out must be between 1 and {len(x) - 1}")
        self.train_x = x[:cut][:a.train_limit]
        self.train_y = y[:cut][:a.train_limit]
        self.test_x = x[cut:][:a.held_out_limit]
        self.test_y = y[cut:][:a.held_out_limit]
        n = len(self.train_x)
        self.batch = min(a.batch, n)
        self.steps_per_epoch = n // self.batch  # last partial batch dropped
        self.total_steps = math.ceil(self.steps_per_epoch * a.epochs)
        stem_weight, stem_bias = whitening(self.train_x)
        self.model = fast_net(a.width, stem_weight, stem_bias).to(
            memory_format=self.memory_format)
        self.optimizer, self.scheduler, self.lr = make_optimizer(
            self.model, self.batch, self.total_steps)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2,
                                           reduction="none")
        self.lookahead = Lookahead(self.model)
        self.flips = (torch.rand(n, generator=self.generator) < 0.5).to(
            torch.uint8)
        self.step = 0

    def epoch(self, epoch: int) -> dict:
        """Trains one epoch; the mean loss (smoothed) and accuracy."""
        self.model.train()
        n = len(self.train_x)
        order = torch.randperm(n, generator=self.generator)
        loss_sum, correct, seen = 0.0, 0, 0
        factor = lr_factor(self.step, self.total_steps)
        for i in range(self.steps_per_epoch):
            if self.step >= self.total_steps:
                break
            idx = order[i * self.batch:(i + 1) * self.batch]
            x = augment(self.train_x, idx, self.flips, epoch, 2,
                        self.generator, self.memory_format)
            y = self.train_y[idx]
            out = self.model(x)
            loss = self.loss_fn(out, y).sum()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            if self.step % 5 == 0:
                self.lookahead.update(
                    0.95 ** 5 * (self.step / self.total_steps) ** 3)
            loss_sum += loss.item()
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
        if self.step >= self.total_steps:
            self.lookahead.update(1.0)  # the run ends on the slow weights
        return {"epoch": epoch + 1,
                "lrMeanLoss": factor * self.lr * self.batch,
                "lrFactor": factor, "loss": loss_sum / max(1, seen),
                "accuracy": correct / max(1, seen)}

    def evaluate(self, tta: bool) -> float:
        return evaluate(self.model, self.test_x, self.test_y, tta,
                        self.memory_format)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def profile(a) -> None:
    """Where a training step of the network goes, op by op (the per-layer
    comparison in simdnet's README): the update of a run on random images,
    a random stem, three warm-up steps first."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    fmt = (torch.channels_last if a.channels_last == "yes"
           else torch.contiguous_format)
    model = fast_net(a.width, torch.randn(24, 3, 2, 2) * 0.1,
                     torch.zeros(24)).to(memory_format=fmt)
    optimizer, _, _ = make_optimizer(model, a.batch, 100)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="none")
    x = torch.randn(a.batch, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        loss = loss_fn(model(x), y).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    times = []
    for _ in range(a.profile_steps):
        _, seconds = timed(step)
        times.append(seconds * 1e3)
    print(f"untimed steps, ms: {' '.join(f'{t:.1f}' for t in times)}")
    with torch_profile(activities=[ProfilerActivity.CPU],
                       record_shapes=True) as prof:
        for _ in range(a.profile_steps):
            step()
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=40,
        max_name_column_width=40, max_shapes_column_width=100)
    print(f"{a.profile_steps} profiled steps (divide by it for one):")
    print(table)


def main() -> None:
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.profile_steps > 0:
        profile(a)
        return
    run, setup_seconds = timed(lambda: Run(a))
    train_seconds, eval_seconds = setup_seconds, 0.0
    history = []
    for epoch in range(math.ceil(a.epochs)):
        row, seconds = timed(lambda: run.epoch(epoch))
        train_seconds += seconds
        acc, held_seconds = timed(lambda: run.evaluate(False)
                                  if a.epoch_eval == "yes" else None)
        eval_seconds += held_seconds
        history.append({**row, "heldOutAccuracy": acc, "seconds": seconds})
        held = "-" if acc is None else f"{acc:.4f}"
        print(f"epoch {epoch + 1:2d}  lr x{row['lrFactor']:.3f}  loss "
              f"{row['loss']:.4f}  accuracy {row['accuracy']:.4f}  held-out "
              f"{held}  {seconds:.1f} s", flush=True)
    plain, plain_seconds = timed(lambda: run.evaluate(False))
    tta, tta_seconds = timed(lambda: run.evaluate(True))
    result = {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "width": a.width, "epochs": a.epochs, "batch": run.batch,
        "steps": run.step, "trainImages": len(run.train_x),
        "heldOutImages": len(run.test_x), "seed": a.seed,
        "heldOutAccuracy": plain, "ttaAccuracy": tta,
        "setupSeconds": setup_seconds, "trainSeconds": train_seconds,
        "epochEvalSeconds": eval_seconds, "evalSeconds": plain_seconds,
        "ttaSeconds": tta_seconds, "history": history,
    }
    print(f"held-out accuracy {plain:.4f} without TTA ({plain_seconds:.1f} s), "
          f"{tta:.4f} with TTA ({tta_seconds:.1f} s); training "
          f"{train_seconds:.1f} s for {run.step} steps", flush=True)
    print(PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
