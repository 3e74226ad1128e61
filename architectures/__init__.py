"""faultlab's model zoo: CIFAR ResNets with linear-bottleneck variants, CIFAR MobileNetV2, mini-MobileNets and
their plain-CNN controls, MLPs and the 2-8-1 moons net, built by name; ``timm:<name>`` passes through to timm."""

from . import mini_mobilenet, mlp, mobilenetv2_cifar, plain_cnn, resnet_cifar  # noqa: F401  (registration)
from ._registry import (
    UnknownArchitectureError,
    available,
    build,
    build_for_input,
    entrypoint,
    is_model,
    list_models,
    parameters,
    register,
)

__all__ = [
    "UnknownArchitectureError",
    "available",
    "build",
    "build_for_input",
    "entrypoint",
    "is_model",
    "list_models",
    "parameters",
    "register",
]
