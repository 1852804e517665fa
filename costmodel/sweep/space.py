"""A block-structured design space, stored as JSON: its format, checks, sampling and enumeration.

A space file (``format`` ``"costmodel-space"``, ``version`` 1)::

    {"format": "costmodel-space", "version": 1, "name": "mobilenetv2",
     "description": "...",                          # optional
     "resolution": [160, 192, 224],                 # input side, pixels (a choice)
     "in_channels": 3, "classes": 1000,             # optional, these defaults
     "stem": {"width": [16, 32], "kernel": 3, "stride": 2, "act": "relu6", "pool": false},
     "stages": [
       {"width": [24, 32], "depth": [2, 3, 4], "stride": 2,
        "blocks": [{"type": "mbconv", "kernel": [3, 5, 7], "expansion": [3, 6]},
                   {"type": "shufflev2", "kernel": 3}]},
       ...],
     "head": {"width": [1280], "act": "relu6"}}      # width 0: no 1x1 conv before the pool

Every field marked as a choice takes a value or a non-empty list of values.  Block types and
their parameters are those of :mod:`costmodel.sweep.blocks`; a parameter left out takes its
default, a ``kernels`` parameter (a list itself) takes a list of lists as its choices.  Within a
stage every block chooses its type and parameters on its own (as in Once-for-All and
ProxylessNAS); the stage's first block has the stage's stride and changes the width, the others
have stride 1.

A candidate (a *config*) is a plain JSON-able dict::

    {"resolution": 224, "stem": 32, "head": 1280,
     "stages": [{"width": 24, "blocks": [{"type": "mbconv", "kernel": 5, "expansion": 6}, ...]}]}

:meth:`Space.sample` draws candidate ``i`` of seed ``s`` from its own generator, so a candidate
does not depend on how a sweep is split into chunks or workers; :meth:`Space.config_at`
enumerates the whole space in a fixed order (:attr:`Space.size` candidates).  Sampling draws
each choice uniformly (a depth, then each block's type, then its parameters), which is not
uniform over the enumerated candidates (deep stages have more of them).

Loading checks everything once (unknown keys, types, ranges, empty choices, every block type
against every width it can meet) and raises :class:`SpaceError` naming the file and the field.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
from typing import Iterator, List, Tuple

import torch.nn as nn

from costmodel import fileio
from costmodel.sweep.blocks import ACTS, BLOCK_TYPES, MAX_KERNEL, PieceKey, build_piece

FORMAT = "costmodel-space"
VERSION = 1
#: the largest space file read (bytes) and its deepest JSON nesting
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 12
#: limits that catch typos before they cost hours
MAX_STAGES = 32
MAX_STAGE_DEPTH = 32
MAX_WIDTH = 8192
MAX_RESOLUTION = 2048
MAX_CHOICES = 1000
#: packaged example spaces (``costmodel/sweep/spaces/NAME.json``)
SPACES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spaces")

_TOP_KEYS = {"format", "version", "name", "description", "resolution", "in_channels", "classes",
             "stem", "stages", "head"}
_STEM_KEYS = {"width", "kernel", "stride", "act", "pool"}
_STAGE_KEYS = {"width", "depth", "stride", "blocks"}
_HEAD_KEYS = {"width", "act"}


class SpaceError(ValueError):
    """A design-space file or dict that is not a valid space (the message names the field)."""


def packaged_spaces() -> List[str]:
    """Names of the example spaces shipped with costmodel."""
    return sorted(f[:-5] for f in os.listdir(SPACES_DIR) if f.endswith(".json"))


def _show(v) -> str:
    text = json.dumps(v) if isinstance(v, (dict, list, str, int, float, bool)) or v is None \
        else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Type checks that raise :class:`SpaceError` prefixed with the source."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, msg: str):
        raise SpaceError(f"{self.source}: {where}: {msg}")

    def obj(self, v, where: str, keys) -> dict:
        if not isinstance(v, dict):
            self.fail(where, f"expected an object, got {_show(v)}")
        unknown = sorted(set(v) - set(keys))
        if unknown:
            self.fail(where, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(keys))})")
        return v

    def integer(self, v, where: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(where, f"expected an integer in [{lo}, {hi}], got {_show(v)}")
        return v

    def int_choices(self, v, where: str, lo: int, hi: int) -> List[int]:
        values = v if isinstance(v, list) else [v]
        if not values:
            self.fail(where, "empty list of choices")
        if len(values) > MAX_CHOICES:
            self.fail(where, f"{len(values)} choices, more than {MAX_CHOICES}")
        return sorted(set(self.integer(x, f"{where}[{i}]" if isinstance(v, list) else where, lo,
                                       hi) for i, x in enumerate(values)))

    def choices(self, v, where: str, param) -> list:
        """The choices of a block parameter (a ``kernels`` value is a list itself)."""
        if param.kind == "kernels":
            values = v if isinstance(v, list) and v and all(isinstance(x, list) for x in v) \
                else [v]
        else:
            values = v if isinstance(v, list) else [v]
        if not values:
            self.fail(where, "empty list of choices")
        if len(values) > MAX_CHOICES:
            self.fail(where, f"{len(values)} choices, more than {MAX_CHOICES}")
        out = []
        for i, x in enumerate(values):
            why = param.problem(x)
            if why:
                self.fail(f"{where}[{i}]" if len(values) > 1 or isinstance(v, list) else where,
                          f"{why}, got {_show(x)}")
            if x not in out:
                out.append(x)
        return out


class Space:
    """A checked design space (see the module docstring); build with :meth:`from_dict`,
    :meth:`load` or :func:`load_space`."""

    def __init__(self, spec: dict, source: str = "space"):
        self.source = source
        self.spec = spec  # as given, JSON-able: to_dict(), hashing and shipping to workers
        c = _Checker(source)
        c.obj(spec, "space", _TOP_KEYS)
        if spec.get("format") != FORMAT:
            raise SpaceError(f"{source}: not a costmodel space (format is "
                             f"{_show(spec.get('format'))}, expected {FORMAT!r})")
        if spec.get("version") != VERSION:
            raise SpaceError(f"{source}: unsupported space version {_show(spec.get('version'))} "
                             f"(this costmodel reads version {VERSION})")
        name = spec.get("name", "space")
        if not isinstance(name, str) or not name or len(name) > 64 \
                or not all(ch.isalnum() or ch in "_-." for ch in name):
            c.fail("name", f"expected a short name of letters, digits, '_', '-', '.', got "
                           f"{_show(name)}")
        self.name = name
        if not isinstance(spec.get("description", ""), str):
            c.fail("description", "expected a string")
        self.resolutions = c.int_choices(_need(c, spec, "resolution", "space"), "resolution", 8,
                                         MAX_RESOLUTION)
        self.in_channels = c.integer(spec.get("in_channels", 3), "in_channels", 1, 64)
        self.classes = c.integer(spec.get("classes", 1000), "classes", 1, 100_000)

        stem = c.obj(_need(c, spec, "stem", "space"), "stem", _STEM_KEYS)
        self.stem_widths = c.int_choices(_need(c, stem, "width", "stem"), "stem.width", 1,
                                         MAX_WIDTH)
        self.stem_kernel = c.integer(stem.get("kernel", 3), "stem.kernel", 1, MAX_KERNEL)
        self.stem_stride = c.integer(stem.get("stride", 2), "stem.stride", 1, 4)
        self.stem_act = _act(c, stem.get("act", "relu"), "stem.act")
        if not isinstance(stem.get("pool", False), bool):
            c.fail("stem.pool", f"expected true or false, got {_show(stem.get('pool'))}")
        self.stem_pool = stem.get("pool", False)

        stages = _need(c, spec, "stages", "space")
        if not isinstance(stages, list) or not stages:
            c.fail("stages", f"expected a non-empty list of stages, got {_show(stages)}")
        if len(stages) > MAX_STAGES:
            c.fail("stages", f"{len(stages)} stages, more than {MAX_STAGES}")
        self.stages = [self._stage(c, s, f"stages[{i}]") for i, s in enumerate(stages)]

        head = c.obj(_need(c, spec, "head", "space"), "head", _HEAD_KEYS)
        self.head_widths = c.int_choices(head.get("width", 0), "head.width", 0, MAX_WIDTH)
        self.head_act = _act(c, head.get("act", "relu"), "head.act")
        self._check_widths(c)
        self._sizes = [self._stage_size(s) for s in self.stages]

    # ------------------------------------------------------------------ parsing
    @staticmethod
    def _stage(c: _Checker, s, where: str) -> dict:
        c.obj(s, where, _STAGE_KEYS)
        widths = c.int_choices(_need(c, s, "width", where), f"{where}.width", 1, MAX_WIDTH)
        depths = c.int_choices(_need(c, s, "depth", where), f"{where}.depth", 1,
                               MAX_STAGE_DEPTH)
        stride = c.integer(s.get("stride", 1), f"{where}.stride", 1, 2)
        blocks = _need(c, s, "blocks", where)
        if not isinstance(blocks, list) or not blocks:
            c.fail(f"{where}.blocks", f"expected a non-empty list of block choices, got "
                                      f"{_show(blocks)}")
        if len(blocks) > MAX_CHOICES:
            c.fail(f"{where}.blocks", f"{len(blocks)} choices, more than {MAX_CHOICES}")
        options = []
        for j, b in enumerate(blocks):
            bw = f"{where}.blocks[{j}]"
            if not isinstance(b, dict):
                c.fail(bw, f"expected an object with a 'type', got {_show(b)}")
            btype = BLOCK_TYPES.get(b.get("type"))
            if btype is None:
                c.fail(f"{bw}.type", f"unknown block type {_show(b.get('type'))} (known: "
                                     f"{', '.join(BLOCK_TYPES)})")
            c.obj(b, bw, {"type"} | set(btype.params))
            params = [(k, c.choices(b[k], f"{bw}.{k}", btype.params[k]))
                      for k in btype.params if k in b]
            options.append((btype, params))
        return {"widths": widths, "depths": depths, "stride": stride, "options": options}

    def _check_widths(self, c: _Checker) -> None:
        """Every block choice must build at every (input width, output width) it can meet."""
        cins = self.stem_widths
        for i, st in enumerate(self.stages):
            pairs = [(a, b, st["stride"]) for a in cins for b in st["widths"]]
            if max(st["depths"]) > 1:
                pairs += [(b, b, 1) for b in st["widths"]]
            for j, (btype, params) in enumerate(st["options"]):
                for values in itertools.product(*(ch for _, ch in params)):
                    p = dict(zip((k for k, _ in params), values))
                    for cin, cout, stride in pairs:
                        why = btype.problem(cin, cout, stride, p)
                        if why:
                            c.fail(f"stages[{i}].blocks[{j}]",
                                   f"{btype.name} {_show(p)} cannot go from {cin} to {cout} "
                                   f"channels at stride {stride}: {why}")
            cins = st["widths"]

    # ------------------------------------------------------------------ size
    @staticmethod
    def _block_options(st: dict) -> int:
        return sum(math.prod(len(ch) for _, ch in params) for _, params in st["options"])

    def _stage_size(self, st: dict) -> int:
        b = self._block_options(st)
        return len(st["widths"]) * sum(b ** d for d in st["depths"])

    @property
    def size(self) -> int:
        """The number of distinct candidates (an exact Python integer, possibly huge)."""
        return (len(self.resolutions) * len(self.stem_widths) * len(self.head_widths)
                * math.prod(self._sizes))

    @property
    def max_blocks(self) -> int:
        return sum(max(st["depths"]) for st in self.stages)

    # ------------------------------------------------------------------ candidates
    def sample(self, seed: int, index: int) -> dict:
        """Candidate ``index`` of the seeded sample ``seed`` (its own generator)."""
        rng = random.Random((int(seed) << 40) | int(index))
        stages = []
        for st in self.stages:
            width = rng.choice(st["widths"])
            depth = rng.choice(st["depths"])
            blocks = []
            for _ in range(depth):
                btype, params = st["options"][rng.randrange(len(st["options"]))]
                block = {"type": btype.name}
                for k, ch in params:
                    block[k] = ch[rng.randrange(len(ch))]
                blocks.append(block)
            stages.append({"width": width, "blocks": blocks})
        return {"resolution": rng.choice(self.resolutions), "stem": rng.choice(self.stem_widths),
                "head": rng.choice(self.head_widths), "stages": stages}

    def config_at(self, index: int) -> dict:
        """Candidate ``index`` (``0 <= index < size``) of the full enumeration."""
        if not 0 <= index < self.size:
            raise IndexError(f"candidate {index} outside the space's {self.size}")
        index, r = divmod(index, len(self.resolutions))
        index, s = divmod(index, len(self.stem_widths))
        index, h = divmod(index, len(self.head_widths))
        stages = []
        for st, size in zip(self.stages, self._sizes):
            index, k = divmod(index, size)
            k, w = divmod(k, len(st["widths"]))
            b = self._block_options(st)
            for depth in st["depths"]:
                if k < b ** depth:
                    break
                k -= b ** depth
            blocks = []
            for _ in range(depth):
                k, j = divmod(k, b)
                blocks.append(self._block_at(st, j))
            stages.append({"width": st["widths"][w], "blocks": blocks})
        return {"resolution": self.resolutions[r], "stem": self.stem_widths[s],
                "head": self.head_widths[h], "stages": stages}

    @staticmethod
    def _block_at(st: dict, j: int) -> dict:
        for btype, params in st["options"]:
            n = math.prod(len(ch) for _, ch in params)
            if j < n:
                block = {"type": btype.name}
                for k, ch in params:
                    j, q = divmod(j, len(ch))
                    block[k] = ch[q]
                return block
            j -= n
        raise AssertionError("block index beyond the stage's options")

    def configs(self, start: int, stop: int, seed: int = 0, enumerate_all: bool = False
                ) -> Iterator[dict]:
        """Candidates ``start`` to ``stop - 1``: sampled with ``seed``, or enumerated."""
        for i in range(start, stop):
            yield self.config_at(i) if enumerate_all else self.sample(seed, i)

    # ------------------------------------------------------------------ pieces and models
    def pieces(self, config: dict) -> List[PieceKey]:
        """The hashable keys of a candidate's pieces, in order: stem, every block, head.  Equal
        keys build equal modules (:func:`costmodel.sweep.blocks.build_piece`)."""
        cin = config["stem"]
        keys: List[PieceKey] = [("stem", cin, self.stem_kernel, self.stem_stride, self.stem_act,
                                 self.stem_pool, self.in_channels)]
        for st, cs in zip(self.stages, config["stages"]):
            cout = cs["width"]
            for j, block in enumerate(cs["blocks"]):
                btype = BLOCK_TYPES[block["type"]]
                params = btype.full({k: v for k, v in block.items() if k != "type"})
                keys.append(("block", btype.name, cin, cout, st["stride"] if j == 0 else 1,
                             tuple((k, tuple(v) if isinstance(v, list) else v)
                                   for k, v in params.items())))
                cin = cout
        keys.append(("head", cin, config["head"], self.classes, self.head_act))
        return keys

    def input_shape(self, config: dict) -> Tuple[int, int, int, int]:
        r = config["resolution"]
        return (1, self.in_channels, r, r)

    def build(self, config: dict) -> nn.Module:
        """The candidate network: ``nn.Sequential(stem, *blocks, head)``."""
        return nn.Sequential(*(build_piece(k) for k in self.pieces(config)))

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        return self.spec

    def digest(self) -> str:
        """A hash of the space's content (what a resumed sweep must match)."""
        text = json.dumps(self.spec, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __repr__(self):
        return (f"<Space {self.name}: {len(self.stages)} stages, up to {self.max_blocks} blocks, "
                f"{self.size:.3g} candidates>")

    @classmethod
    def from_dict(cls, spec: dict, source: str = "space") -> "Space":
        return cls(spec, source)

    @classmethod
    def load(cls, path) -> "Space":
        """Read and check a space file (at most :data:`MAX_FILE_BYTES`, JSON nested at most
        :data:`MAX_DEPTH` deep)."""
        path = os.fspath(path)
        text = fileio.read_text(path, MAX_FILE_BYTES)
        if not fileio.json_depth_ok(text, MAX_DEPTH):
            raise SpaceError(f"{path}: JSON nested deeper than {MAX_DEPTH} levels: not a space")
        return cls(fileio.loads_json(text, path), path)


def _need(c: _Checker, d: dict, key: str, where: str):
    if key not in d:
        c.fail(where, f"missing field {key!r}")
    return d[key]


def _act(c: _Checker, v, where: str) -> str:
    if v not in ACTS:
        c.fail(where, f"expected one of {', '.join(ACTS)}, got {_show(v)}")
    return v


def load_space(space) -> Space:
    """A :class:`Space` from a space object, a dict, a file path or a packaged space name
    (:func:`packaged_spaces`)."""
    if isinstance(space, Space):
        return space
    if isinstance(space, dict):
        return Space.from_dict(space)
    path = os.fspath(space)
    if not os.path.exists(path) and path in packaged_spaces():
        return Space.load(os.path.join(SPACES_DIR, path + ".json"))
    if not os.path.exists(path):
        raise SpaceError(f"no space file {path!r} (and no packaged space of that name: "
                         f"{', '.join(packaged_spaces())})")
    return Space.load(path)


def config_json(config: dict) -> str:
    """A config as one compact JSON line (the ``config`` column of a sweep)."""
    return json.dumps(config, separators=(",", ":"))


def parse_config(text: str) -> dict:
    return json.loads(text)


__all__ = ["FORMAT", "Space", "SpaceError", "config_json", "load_space", "packaged_spaces",
           "parse_config"]
