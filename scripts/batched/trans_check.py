"""Transposed layouts (x_trans / d_trans, as used by indexed convolutions) at the rpu_base tile level."""
import torch
from aihwkit.simulator import rpu_base
from aihwkit.simulator.tiles import AnalogTile
from aihwkit.simulator.presets import GokmenVlasovPreset
torch.manual_seed(0)
def cfg(kind):
    c = GokmenVlasovPreset()
    if kind == "noquant":
        for io in (c.forward, c.backward):
            io.out_noise = 0.0; io.inp_res = -1; io.out_res = -1
    if kind == "w_noise(general path)":
        from aihwkit.simulator.parameters.enums import WeightNoiseType
        for io in (c.forward, c.backward):
            io.w_noise = 0.02; io.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    return c
for kind in ("preset", "noquant", "w_noise(general path)"):
    rpu_base.set_global_random_seed(5)
    t = AnalogTile(48, 300, cfg(kind)).tile
    for xt in (False, True):
        for dt in (xt,):  # the binding sizes the output from x: mixed x_trans != d_trans overflows it (also looped)
            x = torch.rand(300, 1000) * 2 - 1 if xt else torch.rand(1000, 300) * 2 - 1
            d = torch.randn(48, 1000) if dt else torch.randn(1000, 48)
            outs = []
            for looped in (True, False):
                rpu_base.set_looped_matrix(looped); t.set_random_seed(9)
                outs.append((t.forward(x, False, xt, dt, False), t.backward(d, False, dt, xt)))
            fd = (outs[0][0] - outs[1][0]).abs(); bd = (outs[0][1] - outs[1][1]).abs()
            print(f"{kind:8s} x_trans={xt!s:5} d_trans={dt!s:5}: fwd differing {int((fd>0).sum())}/{fd.numel()} max {fd.max():.2e}; "
                  f"bwd differing {int((bd>0).sum())}/{bd.numel()} max {bd.max():.2e}")
rpu_base.set_looped_matrix(False)
