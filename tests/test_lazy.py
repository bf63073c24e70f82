"""Package namespaces import their names on first use, and the command line builds without model code."""

import importlib
import subprocess
import sys
import types

import pytest

from privformers.lazy import lazy_exports

LAZY_PACKAGES = ("approx", "data", "distill", "dp", "generation", "lm", "metrics", "models", "pipeline", "secure")


@pytest.mark.parametrize("area", LAZY_PACKAGES)
def test_every_exported_name_resolves_to_its_module_attribute(area):
    package = importlib.import_module(f"privformers.{area}")
    assert package.__all__, area
    for name in package.__all__:
        value = getattr(package, name)
        module = importlib.import_module(f"privformers.{area}.{package._EXPORTS.get(name, name)}")
        assert value is getattr(module, name), (area, name)
        assert name in dir(package)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        importlib.import_module("privformers.approx").not_there  # noqa: B018
    with pytest.raises(ImportError):
        exec("from privformers.metrics import not_there", {})


def test_a_name_is_imported_once_then_cached_on_the_package(monkeypatch):
    package = types.ModuleType("fake_pkg")
    package.__path__ = []
    sub = types.ModuleType("fake_pkg.part")
    sub.thing = object()
    monkeypatch.setitem(sys.modules, "fake_pkg", package)
    monkeypatch.setitem(sys.modules, "fake_pkg.part", sub)
    package.__getattr__, package.__dir__ = lazy_exports("fake_pkg", {"thing": "part"})
    assert "thing" not in vars(package)
    assert package.thing is sub.thing
    assert vars(package)["thing"] is sub.thing


def test_the_command_line_parser_loads_neither_transformers_nor_nltk():
    heavy = ("transformers", "nltk", "scipy", "privformers.secure.runtime")
    code = ("import sys; from privformers.cli import build_parser; build_parser(); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_name_that_is_its_own_module_name_is_refused():
    with pytest.raises(ValueError, match="quad_gelu must be imported eagerly"):
        lazy_exports("privformers.approx", {"quad_gelu": "quad_gelu"})


def test_checking_a_model_before_launch_loads_no_model_code():
    """The launcher reads the config, tokenizer and lengths; the parties load the model classes themselves."""
    code = ("import sys; from privformers.models import from_path, check_length, check_weights; "
            "from privformers.lm import builtin_model_path; p = builtin_model_path(); s = from_path(p); "
            "check_weights(p); check_length(s, 10, 5); "
            "print(sorted(m for m in ('transformers.modeling_utils', 'privformers.approx.convert', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
