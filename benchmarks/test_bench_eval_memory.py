"""Evaluation memory of an analog network against the evaluation batch size.

An analog convolution unfolds its whole batch (im2col) before the tile's forward pass, so the memory an evaluation
needs grows with the batch: at the 1,000 samples the loop once evaluated at, analog VGG-8 on 32×32 images lifted a
study worker from 1.7 to 7 GB and two workers past the machine's RAM. Each measurement is a fresh process (peak RSS,
``ru_maxrss``) that builds analog VGG-8 (Gokmen-Vlasov), then evaluates 1,000 random 3×32×32 samples with
``training.evaluate`` at one batch size. Reported as the ratio of the evaluation's extra peak memory (peak minus the
memory after building the model) at 1,000 over that at ``training.EVAL_BATCH``, measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import record

from aihwkit_sc.training import EVAL_BATCH

SAMPLES = 1000
WORKER = f"""
import json, resource, sys
import torch
from torch.utils.data import DataLoader, TensorDataset
from aihwkit_sc import build
from aihwkit_sc.training import evaluate
torch.manual_seed(0)
batch = int(sys.argv[1])
model = build("vgg8", preset="gokmen-vlasov", in_channels=3)
data = TensorDataset(torch.rand({SAMPLES}, 3, 32, 32), torch.randint(0, 10, ({SAMPLES},)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loss, accuracy = evaluate(model, DataLoader(data, batch_size=batch))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before_kb": before, "peak_kb": after, "accuracy": accuracy}}))
"""


def peak_extra_mb(batch: int) -> float:
    """The evaluation's extra peak RSS in MB, in a fresh one-thread process."""
    env_cmd = [sys.executable, "-c", WORKER, str(batch)]
    out = subprocess.run(env_cmd, capture_output=True, text=True, check=True,
                         env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                              "PATH": "/usr/bin:/bin"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return (result["peak_kb"] - result["before_kb"]) / 1024


def test_eval_memory_against_batch(benchmark: Any) -> None:
    small = peak_extra_mb(EVAL_BATCH)
    large = peak_extra_mb(SAMPLES)
    assert small > 0 and large > 0, "the evaluation allocated nothing: the measurement is broken"
    record(f"analog VGG-8 evaluation memory, {SAMPLES} samples: batch {SAMPLES} / batch {EVAL_BATCH}",
           f"{large / small:.1f}x ({large:.0f} MB against {small:.0f} MB above the built model; peak RSS, fresh "
           "process, 1 thread)")
    benchmark.extra_info.update(extra_mb={EVAL_BATCH: small, SAMPLES: large})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
