"""ShuffleNetV2's practical guidelines (Ma et al. 2018, arXiv:1807.11164, Sec. 2): the four
validation experiments re-run on this machine, and a linter that checks any model against them.

>>> from costmodel import guidelines, zoo
>>> lint = guidelines.check(zoo.create("shufflenet_v1_g3_x1_0"), (1, 3, 224, 224))
>>> print(lint.to_table())                    # also .to_markdown(), .to_json(), .findings
>>> result = guidelines.run_experiments("quick")  # Tables 1-4 measured here
>>> guidelines.orderings(result)              # does the paper's ordering hold on this machine?

Command line: ``costmodel lint MODEL`` and ``costmodel guidelines run [--quick]``.
"""
from costmodel.guidelines.experiments import orderings, paper_tables  # noqa: F401
from costmodel.guidelines.experiments import run as run_experiments  # noqa: F401
from costmodel.guidelines.lint import (ELEMENTWISE_KINDS, GUIDELINES, SEVERITIES, THRESHOLDS,  # noqa: F401
                                       Finding, LintReport, Thresholds, check)

__all__ = ["check", "Finding", "LintReport", "Thresholds", "THRESHOLDS", "GUIDELINES",
           "SEVERITIES", "ELEMENTWISE_KINDS", "run_experiments", "orderings", "paper_tables"]
