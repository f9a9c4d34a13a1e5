"""Built-in models, registered through the ``register_models`` hook like any plugin's."""

from __future__ import annotations

from typing import Any

from aihwkit_sc.hookspecs import Register, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    from aihwkit_sc.zoo.lenet5 import lenet5
    from aihwkit_sc.zoo.resnet18 import resnet18
    from aihwkit_sc.zoo.vgg8 import vgg8

    register("lenet5", lenet5, aliases=["lenet"], description="LeNet-5 for 28x28 MNIST (aihwkit's example)",
             input_size=(1, 28, 28))
    register("vgg8", vgg8, description="VGG-8 for 32x32x3 SVHN/CIFAR-10 (aihwkit's example)", input_size=(3, 32, 32))
    register("resnet18", resnet18, description="ResNet-18, CIFAR variant (3x3 stem, no max-pool)",
             input_size=(3, 32, 32))


@hookimpl
def register_kinds(register: Any) -> None:
    def validate(name: str, obj: Any, extra: dict[str, Any]) -> None:  # builder(**options) -> nn.Module
        if not callable(obj):
            raise TypeError(f"model {name!r}: expected a callable, got {type(obj).__name__}")

    register("model", hook="register_models", validate=validate)
