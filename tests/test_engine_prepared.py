"""radius="auto": the method's radius-free measurements made while the radius is measured."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import bgsub
from bgsub import engine
from bgsub.data import synthetic
from bgsub.methods.robust import prepare_robust, robust_background


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return synthetic((160, 176), object_radius=(4, 8), seed=3).image


def test_prepared_robust_gives_the_same_pixels(image):
    work = image.astype(np.float32)
    for radius in ((12.0, 12.0), (30.0, 30.0)):
        np.testing.assert_array_equal(
            robust_background(work, radius, prepared=prepare_robust(work)),
            robust_background(work, radius))


@pytest.mark.parametrize("light", [False, True])
def test_plan_prepared_gives_the_same_pixels(image, light):
    plan, prepared = engine.plan_prepared(image, radius="auto", light_background=light)
    assert prepared is not None
    assert plan.radius == engine.plan(image, radius="auto", light_background=light).radius
    with_it = engine.subtract(plan, image, image.dtype, return_background=True,
                              prepared=prepared)
    without = engine.subtract(plan, image, image.dtype, return_background=True)
    for a, b in zip(with_it, without, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(engine.estimate(plan, image, prepared=prepared),
                                  engine.estimate(plan, image))


@pytest.mark.parametrize("alongside", [False, True])
def test_the_preparation_runs_alongside_only_on_a_large_block(image, monkeypatch, alongside):
    """From ``PREPARE_ALONGSIDE_FROM`` pixels on a second thread while the radius is measured
    (lowered here to take this small image), below it first, on the caller's thread; the
    same preparation either way."""
    threads = []
    original = engine.Plan.prepare_block

    def recorded(self, block):
        threads.append(threading.current_thread())
        return original(self, block)

    monkeypatch.setattr(engine.Plan, "prepare_block", recorded)
    if alongside:
        monkeypatch.setattr(engine, "PREPARE_ALONGSIDE_FROM", image.size)
    plan, prepared = engine.plan_prepared(image, radius="auto")
    assert len(threads) == 1 and (threads[0] is not threading.current_thread()) == alongside
    np.testing.assert_array_equal(engine.estimate(plan, image, prepared=prepared),
                                  engine.estimate(plan, image))


def test_plan_prepared_only_where_it_pays(image):
    stack = np.stack([image, image[::-1]])
    assert engine.plan_prepared(image, radius=20)[1] is None  # a radius given: nothing to wait
    assert engine.plan_prepared(image, "rolling_ball", "auto")[1] is None  # nothing to prepare
    assert engine.plan_prepared(stack, radius="auto", axes="TYX")[1] is None  # several blocks
    assert engine.plan_prepared(image, radius="auto", presmooth="gaussian:1")[1] is None


def test_plan_prepared_reports_errors_as_plan_does(image):
    with pytest.raises(ValueError, match="method"):
        engine.plan_prepared(image, "no_such_method", "auto")


def test_api_auto_equals_measured_radius(image):
    radius = bgsub.auto.suggest_radius(image).radius
    np.testing.assert_array_equal(bgsub.subtract_background(image, radius="auto"),
                                  bgsub.subtract_background(image, radius=radius))
    np.testing.assert_array_equal(bgsub.estimate_background(image, radius="auto"),
                                  bgsub.estimate_background(image, radius=radius))
