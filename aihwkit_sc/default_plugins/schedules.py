"""Built-in schedules, registered through the ``register_schedules`` hook like any plugin's."""

from __future__ import annotations

from typing import Any

from aihwkit_sc.hookspecs import Register, hookimpl


@hookimpl
def register_schedules(register: Register) -> None:
    from aihwkit_sc.schedules.constant import constant
    from aihwkit_sc.schedules.cosine import cosine
    from aihwkit_sc.schedules.multistep import multistep
    from aihwkit_sc.schedules.one_cycle import one_cycle
    from aihwkit_sc.schedules.step import step
    from aihwkit_sc.schedules.triangular import triangular

    # needs: the device peak and bounds read each analog layer's measured x·d (aihwkit_sc.schedules.MEASURED)
    device = ("xd_product",)
    register("one-cycle", one_cycle, aliases=["onecycle", "clr", "sc"], needs=device,
             description="one-cycle LR with inverse momentum cycling, analog-aware (Smith & Topin 2018)")
    register("step", step, needs=device, description="LR × gamma every step_size epochs (the poster's baseline)")
    register("multistep", multistep, needs=device,
             description="LR × gamma at fractions of the run (×0.1 at 50 % and 75 %)")
    register("constant", constant, needs=device, description="the same LR throughout")
    register("cosine", cosine, needs=device, description="cosine annealing from lr to min_lr over the run")
    register("triangular", triangular, aliases=["cyclic"],
             description="cyclical LR between base_lr and max_lr (Smith 2017)")


@hookimpl
def register_kinds(register: Any) -> None:
    def validate(name: str, obj: Any, extra: dict[str, Any]) -> None:  # factory(optimizer, **options) -> LRScheduler
        if not callable(obj):
            raise TypeError(f"schedule {name!r}: expected a callable, got {type(obj).__name__}")
        if "needs" in extra:
            from aihwkit_sc.schedules import check_needs

            check_needs(name, obj, extra["needs"])

    register("schedule", hook="register_schedules", validate=validate)
