"""Accuracy versus multiply-adds of torchvision's classifiers, from torchvision's own weights'
metadata, beside the zoo's paper figures.

Every torchvision weight enum carries ``meta["_metrics"]["ImageNet-1K"]["acc@1"]`` (the top-1 of
those weights, single crop) and ``meta["_ops"]`` (labelled "GFLOPS" in torchvision's docs, but
counted as multiply-adds: ResNet-50's is 4.09); both are in the installed package, nothing is
downloaded.  :func:`torchvision_points` analyzes each classifier of ``torchvision.models`` (random
weights on the meta device; on the CPU for the few whose constructors need real tensors) at the
crop size of its ``DEFAULT`` weights and sets costmodel's multiply-adds beside torchvision's ``_ops`` and parameter counts beside ``num_params``;
:func:`plot_torchvision_accuracy` draws those top-1s and the zoo's published ones against
costmodel's multiply-adds, one marker style per source.
"""
from __future__ import annotations

import warnings
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from costmodel.plots.savefig import save_figures, write_csv

#: kinds whose multiply-adds torchvision's ``_ops`` counts (convolutions, linear layers, and
#: attention: its projections and matrix products)
COUNTED_KINDS = frozenset({"conv", "pointwise_conv", "depthwise_conv", "group_conv",
                           "dilated_conv", "transposed_conv", "linear", "matmul", "attention"})
#: constructor arguments that make the unweighted model the one the DEFAULT weights describe
#: (torchvision's builders set them when given weights): a ViT is built for one image size;
#: GoogLeNet's weights come without the auxiliary classifiers
BUILD_KWARGS = {"googlenet": {"aux_logits": False}}
SOURCE = ("torchvision {version} weights metadata: meta['_metrics']['ImageNet-1K']['acc@1'], "
          "meta['_ops'] and meta['num_params'] of each model's DEFAULT weights")
COLUMNS = ["name", "weights", "crop", "top1", "tv_params", "params", "params_ratio",
           "tv_gmadds", "gmadds_counted", "gmadds_all", "ratio_counted", "ratio_all"]


def weights_meta(name: str):
    """``(weights enum member, crop size)`` of torchvision model ``name``'s DEFAULT weights."""
    import torchvision

    w = torchvision.models.get_model_weights(name).DEFAULT
    crop = w.transforms().crop_size
    crop = int(crop[0] if isinstance(crop, (list, tuple)) else crop)
    return w, crop


def _analyze(name: str, crop: int):
    from costmodel.analysis import UnsupportedOpWarning, analyze
    from costmodel.sources import ModelSourceError, load_model

    kwargs = dict(BUILD_KWARGS.get(name, {}))
    if name.startswith("vit_"):
        kwargs["image_size"] = crop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's notes on weight initialisation
        try:
            model = load_model(f"torchvision:{name}", device="meta", **kwargs)
        except ModelSourceError:  # a constructor that fills tensors by value (RegNet): on CPU
            model = load_model(f"torchvision:{name}", **kwargs)
        warnings.simplefilter("ignore", UnsupportedOpWarning)
        return analyze(model, (1, 3, crop, crop), warn=False)


def torchvision_points(names: Optional[Iterable[str]] = None,
                       on_model: Optional[Callable[[str], None]] = None
                       ) -> Tuple[pd.DataFrame, List[Tuple[str, str]]]:
    """``(data, skipped)``: one row per torchvision classifier (columns :data:`COLUMNS`; G =
    10^9 multiply-adds, params in millions) and the ``(name, reason)`` of those left out.

    ``gmadds_counted``: costmodel's multiply-adds of :data:`COUNTED_KINDS`; ``gmadds_all``: of
    every op; ``ratio_*``: costmodel / torchvision ``_ops``; ``params_ratio``: costmodel /
    ``num_params``."""
    from costmodel.sources import torchvision_classification

    rows, skipped = [], []
    for name in (torchvision_classification() if names is None else names):
        try:
            w, crop = weights_meta(name)
            meta = w.meta
            top1 = meta["_metrics"]["ImageNet-1K"]["acc@1"]
            rep = _analyze(name, crop)
        except Exception as exc:  # noqa: BLE001 - one model that cannot be read: say which
            skipped.append((name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"))
            continue
        layers = rep.layers
        counted = float(layers.loc[layers["kind"].isin(COUNTED_KINDS), "madds"].sum()) / 1e9
        total = float(rep.total["madds"]) / 1e9
        ops = float(meta["_ops"])
        params = float(rep.total["params"]) / 1e6
        tv_params = float(meta["num_params"]) / 1e6
        rows.append({"name": name, "weights": str(w).split(".", 1)[-1], "crop": crop,
                     "top1": float(top1), "tv_params": tv_params, "params": params,
                     "params_ratio": params / tv_params, "tv_gmadds": ops,
                     "gmadds_counted": counted, "gmadds_all": total,
                     "ratio_counted": counted / ops, "ratio_all": total / ops})
        if on_model:
            on_model(name)
    return pd.DataFrame(rows, columns=COLUMNS), skipped


def ratio_summary(data: pd.DataFrame, col: str = "ratio_counted") -> str:
    """``"median 1.002 (0.98-1.03) over 80 models"`` of one ratio column."""
    r = data[col].dropna()
    if not len(r):
        return "no models"
    return f"median {r.median():.3f} ({r.min():.3f}-{r.max():.3f}) over {len(r)} models"


def plot_torchvision_accuracy(out: Union[None, str, Sequence[str]] = None,
                              data_csv: Optional[str] = None,
                              names: Optional[Iterable[str]] = None,
                              zoo_names: Optional[Iterable[str]] = None,
                              on_model: Optional[Callable[[str], None]] = None):
    """Top-1 against costmodel's multiply-adds (all ops, log x): torchvision's classifiers with
    their weights' acc@1 (hollow diamonds) beside the zoo's published top-1 (filled circles),
    each source's Pareto frontier dashed and labelled.  ``data_csv``: the torchvision rows
    (:data:`COLUMNS`).  Returns a :class:`costmodel.plots.accuracy.PlotResult` whose ``data``
    holds both sources (``origin`` ``zoo`` / ``torchvision``) and whose ``tv`` attribute the
    torchvision table."""
    import torchvision

    from costmodel.plots import accuracy

    tv, skipped = torchvision_points(names, on_model)
    zoo, zoo_skipped = accuracy.accuracy_points("madds", zoo_names)
    zoo = zoo.assign(origin="zoo")
    tvp = pd.DataFrame({"name": tv["name"], "family": "torchvision", "x": 1e3 * tv["gmadds_all"],
                        "y": tv["top1"], "resolution": tv["crop"], "origin": "torchvision"})
    tvp.insert(4, "on_pareto", accuracy.pareto_mask(tvp["x"], tvp["y"]))
    data = pd.concat([zoo, tvp], ignore_index=True)
    source = SOURCE.format(version=torchvision.__version__.split("+")[0])
    caption = (f"x: costmodel's multiply-adds of all ops at each model's input size (zoo: the "
               f"published resolution; torchvision: its DEFAULT weights' crop). y: zoo: the papers' "
               f"ImageNet top-1 ({len(zoo)} models); torchvision: its weights' acc@1 ({len(tv)} "
               f"models; {source}). costmodel's conv+linear+attention multiply-adds / torchvision's "
               f"_ops: {ratio_summary(tv)}; all ops / _ops: {ratio_summary(tv, 'ratio_all')}; "
               f"params / num_params: {ratio_summary(tv, 'params_ratio')}. Dashed: each "
               f"source's Pareto frontier, its points labelled.")
    if skipped:
        caption += " Not analyzed: " + ", ".join(n for n, _ in skipped) + "."
    result = accuracy.PlotResult("madds", data, skipped + zoo_skipped, caption)
    result.tv = tv
    if data_csv:
        result.paths.append(write_csv(data_csv, tv))
    if out is None:
        return result
    if tv.empty:
        raise ValueError("no torchvision model could be analyzed: " + caption)
    fig = _draw(data, caption)
    result.paths += save_figures(fig, out)
    result.figure = fig
    return result


_SOURCE_STYLE = {"zoo": dict(marker="o", color="#1f77b4", label="zoo: published top-1 (paper)"),
                 "torchvision": dict(marker="D", color="#d95f02",
                                     label="torchvision: its weights' acc@1 (metadata)")}


def _draw(data: pd.DataFrame, caption: str):
    from costmodel.plots.accuracy import frontier_line
    from costmodel.plots.axes import log_limits
    from costmodel.plots.labels import place_labels
    from costmodel.plots.savefig import add_caption, new_figure

    fig = new_figure((13, 8))
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_xlim(*log_limits(data["x"]))
    ymin, ymax = data["y"].min(), data["y"].max()
    ax.set_ylim(ymin - 0.05 * (ymax - ymin) - 0.5, ymax + 0.05 * (ymax - ymin) + 0.5)
    lines = []
    for origin, st in _SOURCE_STYLE.items():
        d = data[data["origin"] == origin]
        hollow = origin == "torchvision"
        ax.scatter(d["x"], d["y"], s=30, marker=st["marker"],
                   facecolors="none" if hollow else st["color"],
                   edgecolors=st["color"] if hollow else "white",
                   linewidths=1.0 if hollow else 0.5, label=f"{st['label']} ({len(d)})", zorder=3)
        front = d[d["on_pareto"]].sort_values("x")
        if len(front):
            lines.append(frontier_line(ax, front, color=st["color"]))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlabel("multiply-adds of all ops (millions, log scale), costmodel")
    ax.set_ylabel("ImageNet top-1 accuracy (%)")
    ax.set_title("Accuracy versus multiply-adds: torchvision's weights beside the zoo's papers",
                 fontsize=12)
    ax.legend(loc="lower right", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.94, bottom=0.15)
    add_caption(fig, caption, 0.06, 0.012)
    lab = data.reset_index(drop=True)
    front = lab["on_pareto"].to_numpy(dtype=bool)
    on = np.flatnonzero(front)
    x, y = lab["x"].to_numpy(), lab["y"].to_numpy()
    texts = place_labels(ax, x[on], y[on], [str(n) for n in lab["name"].to_numpy()[on]],
                         lines=lines, others=(x[~front], y[~front]))
    for t, i in zip(texts, on):
        if t is not None:
            t.set_color(_SOURCE_STYLE[lab["origin"].iat[i]]["color"])
    return fig
