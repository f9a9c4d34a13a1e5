"""Hunt GEMM-vs-GEMV rounding flips at the ADC (output quantization) in the preset config, large batch."""
import sys, torch
from aihwkit.nn import AnalogLinear
from aihwkit.simulator import rpu_base
from aihwkit.simulator.presets import GokmenVlasovPreset
torch.set_num_threads(1)
c = GokmenVlasovPreset()
rpu_base.set_global_random_seed(3); torch.manual_seed(1)
lin = AnalogLinear(512, 128, bias=False, rpu_config=c)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 32768
stress = len(sys.argv) > 2
if stress:
    lin.set_weights(torch.rand(128, 512) * 0.2)
    p = torch.rand(N, 1) * 0.8 + 0.2
    x = torch.rand(N, 512) * (torch.rand(N, 512) < p)
else:
    x = torch.rand(N, 512) * 2 - 1
g = torch.randn(N, 128)
res = {}
for looped in (True, False):
    rpu_base.set_looped_matrix(looped)
    rpu_base.set_global_random_seed(99)
    for t in lin.analog_tiles():
        t.tile.set_random_seed(99)
    xx = x.clone().requires_grad_(True)
    y = lin(xx); y.backward(g)
    res[looped] = (y.detach(), xx.grad.detach())
step_f = c.forward.out_res * 2 * c.forward.out_bound
step_b = c.backward.out_res * 2 * c.backward.out_bound
for k, (a, b, inp, step) in enumerate(((res[True][0], res[False][0], x, step_f), (res[True][1], res[False][1], g, step_b))):
    d = (a - b).abs()
    n = int((d > 0).sum())
    nm = inp.abs().amax(1, keepdim=True).expand_as(d)
    ratio = (d[d > 0] / (step * nm[d > 0])).tolist()
    rows = (d > 0).any(1).nonzero().flatten().tolist()
    print(("fwd" if k == 0 else "bwd"), f"N={N} stress={stress}: differing {n} of {d.numel()} in {len(rows)} samples;",
          f"|diff| in ADC steps (out_res*2*out_bound*nm): {[round(r, 4) for r in ratio[:20]]}",
          f"steps histogram {__import__('collections').Counter(round(r, 3) for r in ratio)}", f"max per sample {int((d > 0).sum(1).max())}")
