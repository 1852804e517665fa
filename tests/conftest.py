"""Shared helpers for the core test suite (formulas, tracer, report, CLI)."""
import functools

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
