"""LeNet-5 (Gokmen-Vlasov preset) samples/s, looped vs batched, same process, alternating."""
import sys, time, torch
from aihwkit.simulator import rpu_base
from aihwkit.optim import AnalogSGD
from aihwkit_sc.zoo import build
import aihwkit
print("aihwkit from", aihwkit.__file__, "torch threads", torch.get_num_threads())
torch.manual_seed(0)
model = build("lenet5", preset="gokmen-vlasov")
print(model)
opt = AnalogSGD(model.parameters(), lr=0.01)
opt.regroup_param_groups(model)
B = 64
x = torch.rand(B, 1, 28, 28)
y = torch.randint(0, 10, (B,))
lossf = torch.nn.CrossEntropyLoss()
T = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 2

def train_step():
    opt.zero_grad()
    loss = lossf(model(x), y)
    loss.backward()
    opt.step()

def fwd_step():
    with torch.no_grad():
        model(x)

def measure(fn, t):
    fn()  # warm-up
    n = 0; t0 = time.perf_counter()
    while time.perf_counter() - t0 < t:
        fn(); n += 1
    return n * B / (time.perf_counter() - t0)

res = {}
for mode, fn, t in (("train", train_step, T), ("forward", fwd_step, T / 2)):
    for r in range(REPS):
        for looped in (True, False):
            if hasattr(rpu_base, "set_looped_matrix"): rpu_base.set_looped_matrix(looped)
            elif not looped: continue
            sps = measure(fn, t)
            res.setdefault((mode, looped), []).append(sps)
            print(f"{mode:8s} {'looped ' if looped else 'batched'} rep{r}: {sps:8.1f} samples/s", flush=True)
for mode in ("train", "forward"):
    l = res[(mode, True)]; b = res.get((mode, False), l)
    ratios = [bb / ll for ll, bb in zip(l, b)]
    print(f"{mode}: looped {['%.0f' % v for v in l]}  batched {['%.0f' % v for v in b]}  batched/looped {['%.2f' % r for r in ratios]}")
getattr(rpu_base, "set_looped_matrix", lambda v: None)(False)
