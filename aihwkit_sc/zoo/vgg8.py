"""VGG-8 as aihwkit trains it on SVHN/CIFAR-10 (``examples/11_vgg8_training.py``), 32×32×3 inputs."""

from __future__ import annotations

from torch import nn


def vgg8(*, num_classes: int = 10, in_channels: int = 3, channel_base: int = 48) -> nn.Sequential:
    """VGG-8: three blocks of two 3×3 convolutions (48, 96, 144 channels; batch norm after the second, then max-pool),
    fc 2304→384, fc 384→classes, log-softmax. aihwkit's example keeps the first conv and the last fc digital:
    ``build("vgg8", preset=..., digital_layers=("first", "last"))`` does the same.

    Args:
        num_classes: output classes.
        in_channels: input channels.
        channel_base: width of the first block (48 in aihwkit's example).
    """
    c1, c2, c3 = channel_base, 2 * channel_base, 3 * channel_base

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        ]

    return nn.Sequential(
        *block(in_channels, c1), *block(c1, c2), *block(c2, c3),
        nn.Flatten(),
        nn.Linear(16 * c3, 8 * channel_base),
        nn.ReLU(),
        nn.Linear(8 * channel_base, num_classes),
        nn.LogSoftmax(dim=1),
    )
