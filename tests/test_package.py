"""``import costmodel`` is cheap and every subpackage is reachable from it.

Each check runs in a fresh interpreter: in the test process torch is long imported.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("torch", "pandas", "numpy", "matplotlib")


def python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_costmodel_loads_no_heavy_package():
    out = python("import sys, costmodel; "
                 f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out.strip() == "[]"


def test_the_package_resolves_to_this_checkout():
    out = python("import costmodel; print(costmodel.__file__)")
    assert out.strip() == os.path.join(ROOT, "costmodel", "__init__.py")


def test_guidelines_check_after_plain_import():
    out = python("import costmodel; print(costmodel.guidelines.check.__module__, "
                 "costmodel.guidelines.Thresholds().g1_warn)")
    assert out.split() == ["costmodel.guidelines.lint", "0.25"]


@pytest.mark.parametrize("name", ["zoo", "latency", "guidelines", "arm", "plots", "sources",
                                  "fileio", "formulas"])
def test_subpackages_are_attributes_of_the_package(name):
    out = python(f"import costmodel; print(costmodel.{name}.__name__)")
    assert out.strip() == f"costmodel.{name}"


def test_top_level_names_resolve_lazily():
    out = python("import costmodel\n"
                 "names = [n for n in costmodel.__all__]\n"
                 "print(all(getattr(costmodel, n) is not None for n in names))\n"
                 "import costmodel.analysis, costmodel.latency\n"
                 "print(costmodel.analyze is costmodel.analysis.analyze, "
                 "costmodel.DeviceProfile is costmodel.latency.DeviceProfile)")
    assert out.split() == ["True", "True", "True"]


def test_unknown_attribute_is_an_attribute_error():
    import costmodel
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        costmodel.nonesuch  # noqa: B018
    import costmodel.guidelines
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        costmodel.guidelines.nonesuch  # noqa: B018
