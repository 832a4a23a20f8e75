"""Settings read from the environment: the one place that names them."""

from __future__ import annotations

#: Path of the ImageNet weights of the LPIPS backbone (a torchvision state dict, .pth or
#: .safetensors), for machines that cannot download them (see attribution88.builders.lpips_features).
LPIPS_BACKBONE_ENV = "ATTRIBUTION88_LPIPS_BACKBONE"
