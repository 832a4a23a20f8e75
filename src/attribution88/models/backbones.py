"""Backbones split into stages, as RepMix splits them, and their ImageNet weights.

A backbone is a list of stages whose composition maps images (B, 3, H, W) to embeddings
(B, embed_dim); the last stage is the head (pooling, flatten, the classifier with its final
layer replaced by a Linear to ``embed_dim``). A mixing layer can be inserted before any stage
(position p = before stage p; len(stages) = after the head). The official split of ResNet-50
(models/RepMix.py of github.com/TuBui/image_attribution) is
[stem (conv1, bn1, relu, maxpool), layer1, layer2, layer3, layer4, (avgpool, flatten, fc)],
mixing at position 5: layer4's feature maps, before pooling. The other backbones of the paper's
ablation are split the same way, at their pooling stages, so that their default mixing
position is also "the last feature maps, before the head".

ImageNet weights are torchvision's (IMAGENET1K_V1, the weights `pretrained=True` gave the
official code): from a file given by the user (safetensors, or torchvision's .pth read with
``torch.load(weights_only=True)``, which loads tensors only) or from the torchvision cache.
Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, OfflineError, UsageError
from ..registry import Registry
from .config import TrainConfig


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone: ``build(embed_dim, width)`` returns (torchvision model with
    its ImageNet classifier, function turning it into stages with an ``embed_dim`` head)."""

    name: str
    make: Callable[[int], nn.Module]  # width -> torchvision model (1000 classes)
    split: Callable[[nn.Module, int], list[nn.Module]]  # (model, embed_dim) -> stages
    weights: str  # torchvision weights enum member, e.g. "ResNet50_Weights.IMAGENET1K_V1"
    default_width: int | None = None  # base width for models that can be narrowed

    def weights_file_name(self) -> str:
        import torchvision

        enum_name, member = self.weights.split(".")
        return os.path.basename(getattr(getattr(torchvision.models, enum_name), member).url)


BACKBONES: Registry[BackboneSpec] = Registry("backbone")


def _resnet(layers: tuple[int, ...], bottleneck: bool = True) -> Callable[[int], nn.Module]:
    def make(width: int) -> nn.Module:
        from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

        block = Bottleneck if bottleneck else BasicBlock
        net = ResNet(block, list(layers))
        if width != 64:  # the same layout at another base width (the CPU preset)
            net.inplanes = width
            net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
            net.bn1 = nn.BatchNorm2d(width)
            for i, (n, stride) in enumerate(zip(layers, (1, 2, 2, 2)), 1):
                setattr(net, f"layer{i}", net._make_layer(block, width * 2 ** (i - 1), n, stride=stride))
            net.fc = nn.Linear(width * 8 * block.expansion, 1000)
        return net

    return make


def _split_resnet(net: nn.Module, embed_dim: int) -> list[nn.Module]:
    fc = nn.Linear(net.fc.in_features, embed_dim)
    return [nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool), net.layer1, net.layer2,
            net.layer3, net.layer4, nn.Sequential(net.avgpool, nn.Flatten(1), fc)]


def _split_densenet(net: nn.Module, embed_dim: int) -> list[nn.Module]:
    f = net.features
    return [nn.Sequential(f.conv0, f.norm0, f.relu0, f.pool0),
            nn.Sequential(f.denseblock1, f.transition1), nn.Sequential(f.denseblock2, f.transition2),
            nn.Sequential(f.denseblock3, f.transition3), nn.Sequential(f.denseblock4, f.norm5),
            nn.Sequential(nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                          nn.Linear(net.classifier.in_features, embed_dim))]


def _split_at_pools(net: nn.Module, embed_dim: int) -> list[nn.Module]:
    """VGG / AlexNet: one stage per max-pooling block, then (avgpool, flatten, classifier)
    with the classifier's last Linear replaced."""
    stages, block = [], []
    for layer in net.features:
        block.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            stages.append(nn.Sequential(*block))
            block = []
    classifier = list(net.classifier)
    classifier[-1] = nn.Linear(classifier[-1].in_features, embed_dim)
    return [*stages, nn.Sequential(net.avgpool, nn.Flatten(1), *classifier)]


def _torchvision(name: str) -> Callable[[int], nn.Module]:
    def make(width: int) -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)(weights=None)

    return make


BACKBONES.add("resnet50", BackboneSpec("resnet50", _resnet((3, 4, 6, 3)), _split_resnet,
                                       "ResNet50_Weights.IMAGENET1K_V1", default_width=64))
BACKBONES.add("resnet18", BackboneSpec("resnet18", _resnet((2, 2, 2, 2), bottleneck=False), _split_resnet,
                                       "ResNet18_Weights.IMAGENET1K_V1", default_width=64))
BACKBONES.add("resnet101", BackboneSpec("resnet101", _resnet((3, 4, 23, 3)), _split_resnet,
                                        "ResNet101_Weights.IMAGENET1K_V1", default_width=64))
BACKBONES.add("densenet121", BackboneSpec("densenet121", _torchvision("densenet121"), _split_densenet,
                                          "DenseNet121_Weights.IMAGENET1K_V1"))
BACKBONES.add("vgg16", BackboneSpec("vgg16", _torchvision("vgg16"), _split_at_pools,
                                    "VGG16_Weights.IMAGENET1K_V1"))
BACKBONES.add("alexnet", BackboneSpec("alexnet", _torchvision("alexnet"), _split_at_pools,
                                      "AlexNet_Weights.IMAGENET1K_V1"))


def imagenet_weights_path(spec: BackboneSpec, path: str | os.PathLike | None = None) -> Path:
    """The file of ``spec``'s ImageNet weights: ``path`` if given, else the torchvision cache
    (``$TORCH_HOME/hub/checkpoints``). One-line error when there is none."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"--pretrained {p}: no such file")
        return p
    cached = Path(torch.hub.get_dir()) / "checkpoints" / spec.weights_file_name()
    if cached.is_file():
        return cached
    raise OfflineError(f"no ImageNet weights for {spec.name}: not in the torchvision cache ({cached}) and "
                       f"none given; pass --pretrained FILE (torchvision's {spec.weights_file_name()} or a "
                       f"safetensors file of the same tensors), or train from scratch with --no-pretrained")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, or of a torch .pth file loaded with ``weights_only=True``
    (tensors and plain containers only: no code runs)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or foreign files: one line
        raise CheckpointError(f"{path}: cannot read weights ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def build_stages(name: str, embed_dim: int, width: int | None = None, pretrained: bool = False,
                 weights_path: str | os.PathLike | None = None) -> list[nn.Module]:
    """The stages of backbone ``name`` with an ``embed_dim`` head; ImageNet weights loaded
    into the torchvision model before its classifier is replaced (as the official code)."""
    spec = BACKBONES.get(name)
    if width is not None and spec.default_width is None:
        raise UsageError(f"backbone {name} has a fixed width; leave width unset")
    width = spec.default_width if width is None else width
    if width is not None and width < 1:
        raise UsageError(f"width must be >= 1, got {width}")
    net = spec.make(width or 0)
    if pretrained:
        if width != spec.default_width:
            raise UsageError(f"no ImageNet weights for {name} at width {width} (only {spec.default_width}); "
                             f"train from scratch with --no-pretrained")
        file = imagenet_weights_path(spec, weights_path)
        state = read_state_dict(file)
        try:
            result = net.load_state_dict(state, strict=False)
        except RuntimeError as e:  # shapes differ
            detail = " ".join(str(e).split())[:200]
            raise CheckpointError(f"{file}: not ImageNet weights of {name} ({detail})") from None
        if result.missing_keys or result.unexpected_keys:
            wrong = (result.missing_keys or result.unexpected_keys)[0]
            raise CheckpointError(f"{file}: not ImageNet weights of {name} ({len(result.missing_keys)} missing, "
                                  f"{len(result.unexpected_keys)} unexpected tensors, e.g. {wrong!r})")
    return spec.split(net, embed_dim)


@dataclass(frozen=True)
class BackboneConfig(TrainConfig):
    """Training settings of a model built on a `BACKBONES` network (its subclasses set the
    defaults of their own model)."""

    backbone: str = "resnet50"
    width: int | None = None  # ResNets only: base width (None = 64, torchvision's)
    pretrained: bool = True  # ImageNet weights (from a file or the torchvision cache)

    def check(self) -> None:
        super().check()
        BACKBONES.get(self.backbone)
        if self.width is not None and (isinstance(self.width, str) or self.width < 1):
            raise UsageError(f"config width must be an integer >= 1, got {self.width!r}")

    def stages(self, embed_dim: int, weights_path: str | os.PathLike | None = None) -> list[nn.Module]:
        """`build_stages` of this backbone, width and pretraining, with an ``embed_dim`` head."""
        return build_stages(self.backbone, embed_dim, self.width, self.pretrained, weights_path)
