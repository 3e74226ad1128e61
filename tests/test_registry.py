"""faultlab.registry: one registry mechanism (models, fault models, data sets) with one did-you-mean."""

import subprocess
import sys

import pytest

import architectures
from faultlab import FaultlabError
from faultlab.data import DATASETS, build_data
from faultlab.faults import FAULTS, FaultSpecError, parse_fault
from faultlab.registry import Registry, UnknownNameError, did_you_mean


class Adam:
    name = "adam"


def sgd():
    return "sgd"


def _registry() -> Registry:
    reg = Registry("optimizer", also="'torch.optim.<Name>'")
    reg.register(Adam)                      # a class: its ``name``
    reg.register(sgd)                       # a function: its ``__name__``
    reg.register(name="sgd_nesterov")(sgd)  # an explicit name, as a decorator with arguments
    return reg


def test_register_get_names_and_the_mapping_protocol():
    reg = _registry()
    assert reg.get("adam") is Adam and reg["sgd"] is sgd and reg.get("sgd_nesterov") is sgd
    assert list(reg) == ["adam", "sgd", "sgd_nesterov"] and len(reg) == 3 and "adam" in reg and "x" not in reg
    assert reg.names() == ["adam", "sgd", "sgd_nesterov"] and reg.names("sgd*") == ["sgd", "sgd_nesterov"]
    assert dict(reg.items()) == {"adam": Adam, "sgd": sgd, "sgd_nesterov": sgd}
    reg.register(Adam)  # the same object again (a re-import) is no error
    with pytest.raises(ValueError, match="optimizer 'adam' is registered twice"):
        reg.register(name="adam")(sgd)


def test_unknown_name_is_one_line_with_one_suggestion_and_the_known_names():
    with pytest.raises(UnknownNameError) as err:
        _registry().get("sdg")
    assert str(err.value) == ("unknown optimizer 'sdg' (did you mean 'sgd'?); known: adam, sgd, sgd_nesterov, "
                              "or 'torch.optim.<Name>'")
    assert isinstance(err.value, FaultlabError) and isinstance(err.value, LookupError)
    assert did_you_mean("zzz", ["adam", "sgd"]) == ""
    assert did_you_mean("resnet18", ["resnet18x"], prefix="timm:") == " (did you mean 'timm:resnet18x'?)"
    assert did_you_mean("resnet2", ["resnet56", "resnet32", "resnet20"]) == " (did you mean 'resnet20' or 'resnet32'?)"


def test_a_family_grammar_resolves_variant_names_to_a_base_and_its_arguments():
    reg = _registry()

    @reg.add_grammar
    def lr_suffix(name):
        base, _, lr = name.partition("@")
        return (base, {"lr": float(lr)}) if lr else None

    assert reg.resolve("adam@0.01") == ("adam", {"lr": 0.01}) and reg.resolve("sgd") == ("sgd", {})
    assert reg.knows("adam@0.01") and not reg.knows("adamw@0.01") and not reg.knows("adamw")
    with pytest.raises(UnknownNameError, match="unknown optimizer 'adamw'"):
        reg.resolve("adamw@0.01")  # the grammar parses it, but its base is not registered


def test_models_faults_and_data_sets_share_the_registry_and_its_message():
    assert isinstance(architectures.MODELS, Registry) and isinstance(FAULTS, Registry)
    assert isinstance(DATASETS, Registry)
    cases = [(lambda: architectures.build("resnet2O"), architectures.UnknownArchitectureError,
              "unknown architecture 'resnet2O' (did you mean 'resnet20' or 'resnet32'?); known: lenet5, "),
             (lambda: parse_fault("dorp(p=0.1)"), FaultSpecError, "unknown fault 'dorp' (did you mean 'drop'?); "),
             (lambda: build_data("mnist5K"), FaultlabError, "unknown dataset 'mnist5K' (did you mean 'mnist5k'?); ")]
    for call, error, start in cases:
        with pytest.raises(error) as err:
            call()
        assert str(err.value).startswith(start) and "\n" not in str(err.value)
        assert isinstance(err.value, FaultlabError)
    assert DATASETS["mnist5k"].name == "mnist5k" and FAULTS["drop"].name == "drop"


def test_importing_the_registry_imports_no_torch():
    code = "import sys, faultlab.registry; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
