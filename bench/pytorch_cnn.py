"""PyTorch twin of simdnet's seed CIFAR-10 CNN, for speed comparisons.

Same layers and shapes as src/nn/cifar_cnn.ts (2,168,362 parameters); the
weights are PyTorch's default initialisation, which does not change speed.
Speaks the line protocol of bench/_harness.ts: after start-up it prints
{"ready": true, ...}; then each JSON request line on stdin, e.g.
{"task": "train", "batch": 64, "steps": 5}, is answered with one JSON line
giving the seconds the steps took. Protocol lines start with "@@bench ".
With --task it runs one measurement
(after --warmup untimed steps) and exits, for use by hand; with
--profile-steps N it profiles N training steps op by op (torch.profiler) and
prints the table (simdnet's side: `deno task bench:profile`).

Run it as bench/_pytorch.ts does, i.e. with jemalloc preloaded, OpenMP
OpenBLAS first on the library path and MALLOC_CONF set; see that file.
"""

import argparse
import json
import resource
import sys
import time

import torch
from torch import nn

TASKS = ("train", "infer", "latency", "train-fast")
FAST_WIDTH = 0.5  # bench/_protocol.ts' FAST_BENCH_WIDTH
PREFIX = "@@bench "


def send(message: dict) -> None:
    print(PREFIX + json.dumps(message), flush=True)


def seed_cnn() -> nn.Sequential:
    def conv(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *conv(3, 32), *conv(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),
        *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 512), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(512, 10),
    )


class Bench:
    def __init__(self, channels_last: bool) -> None:
        torch.manual_seed(0)
        self.memory_format = (
            torch.channels_last if channels_last else torch.contiguous_format
        )
        self.model = seed_cnn().to(memory_format=self.memory_format)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()
        self.inputs: dict = {}
        self.fast = None

    def fast_step(self, batch: int, steps: int) -> float:
        """The fast recipe's training steps, as bench/pytorch_fast.py runs
        them (augmentation from uint8, summed smoothed loss, SGD with the
        BatchNorm-offset group, the schedule), without the lookahead."""
        import pytorch_fast as pf  # bench/, next to this script
        if self.fast is None or self.fast[3] != batch:
            images = torch.randint(0, 256, (batch * 4, 3, 32, 32),
                                   dtype=torch.uint8)
            labels = torch.randint(0, 10, (batch * 4,))
            weight, bias = pf.whitening(images)
            model = pf.fast_net(FAST_WIDTH, weight, bias).to(
                memory_format=self.memory_format)
            opt, sched, _ = pf.make_optimizer(model, batch, 10 ** 6)
            loss = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="none")
            flips = (torch.rand(len(images)) < 0.5).to(torch.uint8)
            self.fast = (model, opt, sched, batch, loss, images, labels,
                         flips, torch.Generator().manual_seed(0))
        model, opt, sched, _, loss_fn, images, labels, flips, gen = self.fast
        model.train()
        start = time.perf_counter()
        for i in range(steps):
            idx = torch.arange(batch) + (i % 4) * batch
            x = pf.augment(images, idx, flips, i, 2, gen, self.memory_format)
            loss = loss_fn(model(x), labels[idx]).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        loss.item()
        return time.perf_counter() - start

    def batch(self, n: int):
        # Fixed tensors, prepared once: a strong user's loader hands over
        # ready float batches, so conversion is not part of the step.
        if n not in self.inputs:
            x = torch.rand(n, 3, 32, 32).contiguous(
                memory_format=self.memory_format)
            y = torch.randint(0, 10, (n,))
            self.inputs[n] = (x, y)
        return self.inputs[n]

    def run(self, task: str, batch: int, steps: int) -> float:
        if task == "train-fast":
            return self.fast_step(batch, steps)
        x, y = self.batch(batch)
        if task == "train":
            self.model.train()
            start = time.perf_counter()
            for _ in range(steps):
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.loss(self.model(x), y)
                loss.backward()
                self.optimizer.step()
            loss.item()
            return time.perf_counter() - start
        self.model.eval()
        with torch.inference_mode():
            start = time.perf_counter()
            for _ in range(steps):
                probs = torch.softmax(self.model(x), dim=1)
            probs[0, 0].item()
            return time.perf_counter() - start


def answer(task: str, batch: int, steps: int, seconds: float) -> dict:
    return {
        "task": task,
        "batch": batch,
        "steps": steps,
        "seconds": seconds,
        "imagesPerSecond": batch * steps / seconds,
        "msPerBatch": seconds * 1000 / steps,
        # The process's peak RSS so far: ru_maxrss is KiB on Linux (VmHWM).
        "peakRssMb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def profile(bench: Bench, batch: int, steps: int) -> None:
    """Where a training step goes, op by op, after three untimed steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    bench.run("train", batch, 3)
    times = [bench.run("train", batch, 1) * 1e3 for _ in range(steps)]
    print(f"untimed steps, ms: {' '.join(f'{t:.1f}' for t in times)}")
    with torch_profile(activities=[ProfilerActivity.CPU],
                       record_shapes=True) as prof:
        bench.run("train", batch, steps)
    table = prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=40,
        max_name_column_width=40, max_shapes_column_width=100)
    print(f"{steps} profiled steps (divide by it for one):")
    print(table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--channels-last", choices=("yes", "no"), default="yes")
    p.add_argument("--task", choices=TASKS)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--profile-steps", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    bench = Bench(a.channels_last == "yes")
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "channelsLast": a.channels_last == "yes",
        "mkldnn": torch.backends.mkldnn.is_available(),
    }
    if a.profile_steps > 0:
        profile(bench, a.batch, a.profile_steps)
        return
    if a.task:
        bench.run(a.task, a.batch, a.warmup)
        seconds = bench.run(a.task, a.batch, a.steps)
        print(json.dumps({**answer(a.task, a.batch, a.steps, seconds),
                          "info": info}))
        return
    send({"ready": True, "info": info})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            if req["task"] not in TASKS:
                raise ValueError(f"unknown task {req['task']}")
            seconds = bench.run(req["task"], req["batch"], req["steps"])
            out = answer(req["task"], req["batch"], req["steps"], seconds)
        except Exception as err:  # reported to the harness, which goes on
            out = {"error": f"{type(err).__name__}: {err}"}
        send(out)


if __name__ == "__main__":
    main()
