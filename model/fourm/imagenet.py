"""The ImageNet mean and std of the official rgb input convention, written once."""

from __future__ import annotations

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_stats(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std shaped ``[3, 1, 1]`` on ``like``'s device, float32."""
    mean = torch.tensor(IMAGENET_MEAN, device=like.device)[:, None, None]
    return mean, torch.tensor(IMAGENET_STD, device=like.device)[:, None, None]


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` -> ImageNet-normalised float, the official rgb input convention."""
    mean, std = imagenet_stats(images)
    return (images.float() / 255.0 - mean) / std
