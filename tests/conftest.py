"""Shared helpers for the core test suite (formulas, tracer, report, CLI)."""
import functools
import os
import xml.etree.ElementTree as ET

import pytest

import costmodel

#: small zoo models of different families (channel shuffle, inverted residual, MixConv + SE,
#: fire modules, EESP dilated/grouped convs, hard-swish + SE)
SMALL_ZOO = ["shufflenet_v2_x0_5", "mobilenet_v2_x0_35", "mixnet_s", "squeezenet1_1",
             "espnetv2_s0_5", "mobilenet_v3_small"]


@functools.lru_cache(maxsize=None)
def _zoo_model(name):
    return costmodel.zoo.create(name).eval()


@pytest.fixture(scope="session")
def zoo_model():
    """``zoo_model(name)``: one instance per zoo model per session (building them costs time)."""
    return _zoo_model


SVG_NS = "{http://www.w3.org/2000/svg}"


def assert_png(path):
    """A PNG file of a real picture (not an empty canvas)."""
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    assert os.path.getsize(path) > 10_000


def assert_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg"
