"""ResNet-18, CIFAR variant, from torchvision's ResNet pieces."""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet


def resnet18(*, num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-18 for 32×32 inputs (He et al. 2016, CIFAR variant): torchvision's ``ResNet(BasicBlock, [2, 2, 2, 2])``
    with a 3×3 stride-1 stem and no max-pool. 11,173,962 parameters for 10 classes.

    Args:
        num_classes: output classes.
        in_channels: input channels.
    """
    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model
