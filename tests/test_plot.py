"""Figures: the right panels, labels and scores."""

from __future__ import annotations

import numpy as np
import pytest

import bgsub
from bgsub import plot


@pytest.fixture(scope="module")
def small():
    return bgsub.data.synthetic((64, 72), object_radius=(3, 5), seed=5).image


def test_compare_has_raw_background_foreground_and_profile(small, tmp_path):
    fg, bg = bgsub.subtract_background(small, "tophat", 10, return_background=True)
    fig = plot.compare(small, bg, fg, title="tophat r=10", pixel_size=0.5,
                       path=tmp_path / "c.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["raw", "background", "foreground"]
    profile = fig.axes[3]
    assert [line.get_label() for line in profile.get_lines()] == ["raw", "background",
                                                                  "foreground"]
    np.testing.assert_array_equal(profile.get_lines()[1].get_ydata(), bg[32])
    assert any("µm" in t.get_text() for t in fig.axes[0].texts)  # scale bar
    assert (tmp_path / "c.png").stat().st_size > 10_000
    # raw and background share one contrast range
    assert fig.axes[0].images[0].get_clim() == fig.axes[1].images[0].get_clim()


def test_compare_of_a_stack_shows_a_plane_or_projection(small):
    stack = np.stack([small, small * 2])
    fig = plot.compare(stack, stack * 0, stack, plane=1)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), small * 2)
    fig = plot.compare(stack, stack * 0, stack, project=True)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), small * 2)


def test_sweep_grid_labels_and_scores(small):
    result = plot.sweep(small, ["tophat", "median"], [4, 8, 16])
    assert result.rows == ["tophat", "median"] and result.columns == ["r=4", "r=8", "r=16"]
    assert len(result.figure.axes) == 6 and len(result.scores) == 6
    assert result.figure.axes[5].get_title() == "median, r=16"
    assert result.table().count("\n") == 7


def test_sweep_of_min_and_max_sizes(small):
    result = plot.sweep(small, min_sizes=[3, 6], max_sizes=[2, 4])
    assert result.rows == ["min=3", "min=6"] and result.columns == ["max=2", "max=4"]
    assert result.scores[1]["options"] == {"dilation_radius": 4}
    expected = bgsub.estimate_background(small, "tophat", 3, dilation_radius=4)
    tile = result.figure.axes[1].images[0].get_array()
    np.testing.assert_allclose(tile, small - expected, atol=1e-3)


def test_sweep_rejects_bad_show(small):
    with pytest.raises(ValueError, match="show="):
        plot.sweep(small, ["tophat"], [3], show="both")
