"""faultlab's model zoo: CIFAR ResNets with linear-bottleneck variants, CIFAR MobileNetV2, mini-MobileNets with
their bottleneck ablations and plain-CNN controls, a LeNet-5-style CNN, MLPs and the 2-8-1 moons net, built by
name or by variant name (``mini_mobilenet-4x(8,1,6)-noshortcut``); ``timm:<name>`` passes through to timm."""

from . import lenet, mini_mobilenet, mlp, mobilenetv2_cifar, plain_cnn, resnet_cifar  # noqa: F401  (registration)
from ._registry import (
    MODELS,
    UnknownArchitectureError,
    available,
    build,
    build_for_input,
    entrypoint,
    is_model,
    list_models,
    parameters,
    register,
    variant_grammar,
)

__all__ = [
    "MODELS",
    "UnknownArchitectureError",
    "available",
    "build",
    "build_for_input",
    "entrypoint",
    "is_model",
    "list_models",
    "parameters",
    "register",
    "variant_grammar",
]
