"""Published ARM speeds of ShuffleNetV2, ShuffleNetV1 and MobileNetV2, against costmodel.

Modules: :mod:`~costmodel.arm.published.data` (the figures and their sources),
:mod:`~costmodel.arm.published.comparison` (predictions and scores),
:mod:`~costmodel.arm.published.rendering` (the Markdown report, its JSON, :func:`run`) and
:mod:`~costmodel.arm.published.figure` (its plot).

The data (``costmodel/arm/published_arm.json``) holds, with their sources, the network speeds
that three papers measured on phone CPUs: ShuffleNetV2 (arXiv:1807.11164) Table 8 and Appendix
Table 1 on a Snapdragon 810, ShuffleNetV1 (arXiv:1707.01083) Table 8 on a Snapdragon 820, and
MobileNetV2 (arXiv:1801.04381) Table 4 on a Pixel 1.  ShuffleNetV2's guideline micro-benchmarks
(Tables 1-4, Snapdragon 810) are read from ``costmodel/guidelines/paper_tables.json``.

:func:`~costmodel.arm.published.comparison.compare` predicts every mapped network on the paper's device with the spec-based profiles
of :mod:`costmodel.arm.spec_profiles` (three variants) and with a FLOPs-only predictor (time
proportional to multiply-adds), and scores each predictor against the published figures:

* ``tau_b``: Kendall's tau-b between predicted and published times (ties count as ties);
* ``pair_acc``: pairwise-order accuracy, the fraction of pairs the paper separates that the
  predictor orders the same way (a predicted tie counts one half);
* ``ratio_err_med``: median over pairs of the error of the predicted time ratio against the
  published one, ``exp(|ln(p_i/p_j) - ln(t_i/t_j)|) - 1`` in percent;
* ``mape``: mean absolute percentage error after one global scale factor per comparison set
  (the geometric mean of published / predicted), and ``frac_of_spec``: the inverse of that scale,
  the fraction of the spec-predicted speed the paper's engine reached.

Pair metrics only pair figures of the same *group* (e.g. one column of a guideline table, one
input resolution), so sets whose rows were designed with equal FLOPs are judged on their order
within the column.  ``costmodel arm published --out reports/arm/published.md`` writes the report
and its plot.
"""
