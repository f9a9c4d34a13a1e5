"""Looped vs batched IO-managed forward/backward of the pulsed CPU tile under one seed."""
import copy, sys
import torch
import torch.nn.functional as F
from aihwkit.nn import AnalogLinear, AnalogConv2d
from aihwkit.simulator import rpu_base
from aihwkit.simulator.presets import GokmenVlasovPreset
from aihwkit.simulator.parameters.enums import BoundManagementType

torch.set_num_threads(1)
SEED = 1234


def cfgs():
    out = {}
    out["preset"] = GokmenVlasovPreset()
    c = GokmenVlasovPreset()
    for io in (c.forward, c.backward):
        io.out_noise = 0.0; io.inp_res = -1; io.out_res = -1
    out["noquant_nonoise"] = c
    c = GokmenVlasovPreset(); c.forward.is_perfect = True; c.backward.is_perfect = True
    out["is_perfect"] = c
    c = GokmenVlasovPreset()
    c.forward.bound_management = BoundManagementType.NONE
    out["bm_none"] = c
    out["preset_bm_stress"] = GokmenVlasovPreset()  # positive weights, inputs that saturate
    from aihwkit.simulator.parameters.enums import WeightNoiseType, NoiseManagementType
    c = GokmenVlasovPreset(); c.forward.w_noise = 0.02; c.forward.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    c.backward.w_noise = 0.02; c.backward.w_noise_type = WeightNoiseType.ADDITIVE_CONSTANT
    out["w_noise(general)"] = c
    c = GokmenVlasovPreset(); c.forward.noise_management = NoiseManagementType.AVERAGE_ABS_MAX
    c.backward.noise_management = NoiseManagementType.AVERAGE_ABS_MAX
    out["avgabsmax(gen.)"] = c
    c = GokmenVlasovPreset(); c.forward.inp_noise = 0.01; c.backward.inp_noise = 0.01
    out["inp_noise"] = c
    only = sys.argv[1:]
    return {k: v for k, v in out.items() if not only or k in only}


def run(layer, x, g, looped):
    layer = copy.deepcopy(layer)  # fresh tile state (e.g. the AverageAbsMax running value)
    rpu_base.set_looped_matrix(looped)
    rpu_base.set_global_random_seed(SEED)
    for i, t in enumerate(layer.analog_tiles()):
        t.tile.set_random_seed(SEED + i)
    xx = x.clone().requires_grad_(True)
    y = layer(xx)
    y.backward(g)
    return y.detach(), xx.grad.detach()


def analyse(name, kind, cfg, yl, yb, gl, gb, x, g, layer):
    res = {}
    for what, a, b, io in (("fwd", yl, yb, cfg.forward), ("bwd", gl, gb, cfg.backward)):
        d = (a - b).abs()
        n = int((d > 0).sum())
        line = f"{name:16s} {kind:6s} {what}: max|diff|={d.max().item():.3e}  differing={n}/{d.numel()}"
        quant = io.out_res > 0 and not io.is_perfect
        if n and quant and what == "fwd":
            # one ADC step of the sample: out_res * nm_scale (AbsMax) * bm reduction (1, 2, 4, ...)
            if kind == "linear":
                nm = x.abs().amax(dim=1, keepdim=True).expand_as(d)
            else:
                k = layer.kernel_size
                p = F.unfold(x, k).abs().amax(dim=1)  # [N, L]
                nm = p.view(x.shape[0], 1, yl.shape[2], yl.shape[3]).expand_as(d)
            ratio = d[d > 0] / (io.out_res * 2 * io.out_bound * nm[d > 0])
            r1 = int(((ratio - ratio.round()).abs() < 1e-3).sum())
            line += f"; |diff|/(ADC step out_res*2*out_bound*nm) integer(1,2,4..) for {r1}/{n}, ratios={sorted(set(ratio.round(decimals=3).tolist()))[:8]}"
            if kind == "linear":
                rows = (d > 0).any(dim=1).nonzero().flatten().tolist()
                line += f"; samples with diffs: {rows[:10]}{'...' if len(rows) > 10 else ''} (of {d.shape[0]})"
                per_row = (d > 0).sum(dim=1)
                line += f"; max diffs/sample={int(per_row.max())}"
        elif n and quant:
            if kind == "linear":
                nm = g.abs().amax(dim=1, keepdim=True).expand_as(d)
                ratio = d[d > 0] / (io.out_res * 2 * io.out_bound * nm[d > 0])
                r1 = int(((ratio - ratio.round()).abs() < 1e-3).sum())
                line += f"; |diff|/(ADC step out_res*2*out_bound*nm) integer for {r1}/{n}, ratios={sorted(set(ratio.round(decimals=3).tolist()))[:8]}"
                per_row = (d > 0).sum(dim=1)
                line += f"; max diffs/sample={int(per_row.max())}"
            else:
                line += f"; (conv bwd: col2im sums several patch outputs)  max|diff|/(out_res*max|g|)={(d.max()/(io.out_res*g.abs().max())).item():.3f}"
        print(line)
        res[what] = n
    return res


def main():
    torch.manual_seed(0)
    x_lin = torch.rand(256, 512) * 2 - 1
    g_lin = torch.randn(256, 128)
    x_conv = torch.rand(16, 3, 16, 16)
    g_conv = torch.randn(16, 16, 12, 12)
    for name, cfg in cfgs().items():
        torch.manual_seed(1)
        lin = AnalogLinear(512, 128, bias=False, rpu_config=cfg)
        torch.manual_seed(2)
        conv = AnalogConv2d(3, 16, 5, bias=False, rpu_config=cfg)
        xl, xc = x_lin, x_conv
        if name == "preset_bm_stress":
            torch.manual_seed(3)
            lin.set_weights(torch.rand(128, 512) * 0.2)
            conv.set_weights(torch.rand(16, 3 * 25) .view(16, 3, 5, 5) * 0.6)
            p = torch.rand(256, 1) * 0.8 + 0.2
            xl = torch.rand(256, 512) * (torch.rand(256, 512) < p)
            xc = torch.rand(16, 3, 16, 16) * (torch.rand(16, 3, 16, 16) < 0.7)
        for kind, layer, x, g in (("linear", lin, xl, g_lin), ("conv", conv, xc, g_conv)):
            yl, gl = run(layer, x, g, True)
            yl2, gl2 = run(layer, x, g, True)
            yb, gb = run(layer, x, g, False)
            assert torch.equal(yl, yl2) and torch.equal(gl, gl2), "looped path not reproducible under seed"
            analyse(name, kind, cfg, yl, yb, gl, gb, x, g, layer)
            if kind == "linear" and not cfg.forward.is_perfect:
                # estimated bound-management repeats: samples whose noise-free |W x|/max|x| > out_bound
                w = layer.get_weights()[0]
                y0 = (x @ w.T) / x.abs().amax(dim=1, keepdim=True)
                print(f"{'':16s} linear fwd: ~{int((y0.abs().amax(dim=1) > cfg.forward.out_bound).sum())} of {x.shape[0]} samples saturate in round 1 (BM repeats)")
    rpu_base.set_looped_matrix(False)


main()
