"""LeNet-5 as aihwkit's own LeNet example trains it on 28×28 MNIST (``examples/04_lenet5_training.py``)."""

from __future__ import annotations

from torch import nn


def lenet5(*, num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5: conv 5×5 (16) – tanh – max-pool – conv 5×5 (32) – tanh – max-pool – tanh – fc 512→128 – tanh –
    fc 128→classes – log-softmax. 80,202 parameters for 10 classes; input 1×28×28.

    Args:
        num_classes: output classes.
        in_channels: input channels.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, kernel_size=5, stride=1),
        nn.Tanh(),
        nn.MaxPool2d(kernel_size=2),
        nn.Conv2d(16, 32, kernel_size=5, stride=1),
        nn.Tanh(),
        nn.MaxPool2d(kernel_size=2),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(512, 128),
        nn.Tanh(),
        nn.Linear(128, num_classes),
        nn.LogSoftmax(dim=1),
    )
