"""ShuffleNetV2's practical guidelines (Ma et al. 2018, arXiv:1807.11164, Sec. 2): the four
validation experiments re-run on this machine, and a linter that checks any model against them.

>>> from costmodel import guidelines, zoo
>>> lint = guidelines.check(zoo.create("shufflenet_v1_g3_x1_0"), (1, 3, 224, 224))
>>> print(lint.to_table())                    # also .to_markdown(), .to_json(), .findings
>>> result = guidelines.run_experiments("quick")  # Tables 1-4 measured here
>>> guidelines.orderings(result)              # does the paper's ordering hold on this machine?

Command line: ``costmodel lint MODEL`` and ``costmodel guidelines run [--quick]``.
"""
__all__ = ["check", "Finding", "LintReport", "Thresholds", "THRESHOLDS", "GUIDELINES",
           "SEVERITIES", "ELEMENTWISE_KINDS", "run_experiments", "orderings", "paper_tables"]


def __getattr__(name):
    """The names above, imported on first use (``import costmodel.guidelines`` stays cheap)."""
    if name in ("orderings", "paper_tables", "run_experiments"):
        from costmodel.guidelines import experiments as module
        value = getattr(module, "run" if name == "run_experiments" else name)
    elif name in __all__:
        from costmodel.guidelines import lint as module
        value = getattr(module, name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
