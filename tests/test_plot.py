"""Figures: the right panels, labels and scores."""

from __future__ import annotations

from pathlib import Path

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
    assert scale_bars(fig.axes[0]) == [(0.5, "µm")]
    assert (tmp_path / "c.png").stat().st_size > 10_000
    # raw and background share one contrast range
    assert fig.axes[0].images[0].get_clim() == fig.axes[1].images[0].get_clim()


def test_compare_of_arrays_of_other_shapes_is_a_one_line_error(small):
    # (it drew the raw image and failed deep inside with an IndexError)
    with pytest.raises(ValueError) as info:
        plot.compare(small, small[:10], small)
    assert str(info.value) == ("image (64, 72), background (10, 72) and foreground (64, 72) "
                               "differ in shape; pass the background and foreground computed "
                               "from this image")


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


@pytest.mark.parametrize("draw", ["compare", "sweep"])
def test_a_figure_saved_under_an_image_name_bgsub_reads_is_refused(small, tmp_path, draw):
    """plot.compare(path="c.tif") wrote an unmarked TIFF, which a folder's run took for data."""
    with pytest.raises(ValueError, match="a figure is written as PNG"):
        if draw == "compare":
            plot.compare(small, small * 0, small, path=tmp_path / "c.tif")
        else:
            plot.sweep(small, ["tophat"], [4], path=tmp_path / "c.jpg")
    assert not list(tmp_path.iterdir())


def test_sweep_shows_and_scores_the_colour_samples_and_one_channel(small):
    """A grey + alpha image was shown as slivers (to_plane without the axes) and scored with
    its alpha as a second plane; an image of two channels could not be drawn."""
    grey = small.astype(np.float32)
    plain = plot.sweep(grey, ["tophat"], [6])
    alpha = plot.sweep(np.stack([grey, np.full_like(grey, 1.0)], -1), ["tophat"], [6],
                       axes="YXS")
    assert alpha.scores == plain.scores
    np.testing.assert_array_equal(alpha.figure.axes[0].images[0].get_array(),
                                  plain.figure.axes[0].images[0].get_array())
    channels = plot.sweep(np.stack([grey * 0, grey]), ["tophat"], [6], axes="CYX")
    np.testing.assert_array_equal(channels.figure.axes[0].images[0].get_array(),
                                  plain.figure.axes[0].images[0].get_array())


def test_sweep_rejects_bad_show(small):
    with pytest.raises(ValueError, match="show="):
        plot.sweep(small, ["tophat"], [3], show="both")


# -- bgsub run --figure: what the batch draws -------------------------------------------------


def test_run_figure_shows_the_chosen_plane_of_the_computed_background(tmp_path, monkeypatch):
    import tifffile

    from bgsub import batch
    from bgsub.config import Settings

    stack = bgsub.data.synthetic((5, 40, 44), seed=4).image
    tifffile.imwrite(tmp_path / "s.ome.tif", stack, ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.0})
    drawn, calls = [], []
    real_compare, real_subtract = plot.compare, batch.subtract_background
    monkeypatch.setattr(plot, "compare", lambda *a, **k: drawn.append(
        real_compare(*a, **k)) or drawn[-1])
    monkeypatch.setattr(batch, "subtract_background",
                        lambda *a, **k: calls.append(k) or real_subtract(*a, **k))
    background = bgsub.estimate_background(stack, "tophat", 6, axes="ZYX")

    def run(plane, out):
        settings = Settings(method="tophat", radius=6, figure=True,
                            figure_plane=plane).validated()
        sources = [batch.Source(tmp_path / "s.ome.tif", Path("s.ome.tif"))]
        jobs, _ = batch.plan_jobs(sources, tmp_path / out, settings)
        batch.prepare_folders(jobs)
        return batch.run_batch(jobs, settings)[0]

    assert run("middle", "a").status == "done"
    assert len(calls) == 1 and calls[0]["return_background"]  # one background, reused
    fig = drawn[-1]
    assert [ax.get_title() for ax in fig.axes[:3]] == ["raw", "background", "foreground"]
    assert fig.get_suptitle() == "s.ome.tif: tophat, radius 6 (plane 2 of 5)"
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), stack[2])
    np.testing.assert_allclose(fig.axes[3].get_lines()[1].get_ydata(), background[2, 20],
                               rtol=1e-6)
    assert scale_bars(fig.axes[0])[0][1] == "µm"  # scale bar from the file
    assert (tmp_path / "a" / "s_comparison.png").read_bytes()[:4] == b"\x89PNG"

    assert run("max", "b").status == "done"
    assert drawn[-1].get_suptitle().endswith("(maximum projection of 5 planes)")
    np.testing.assert_array_equal(drawn[-1].axes[0].images[0].get_array(), stack.max(axis=0))

    failed = run(9, "c")
    assert failed.status == "failed" and failed.message.startswith(
        "--figure-plane 9: plane 9 does not exist (the image has 5 planes)")
    assert not (tmp_path / "c" / "s.ome.tif").exists()


def test_a_plane_a_2d_image_lacks_is_refused(small, tmp_path):
    """`--figure-plane 7` of a 2D image drew its one plane without a word, where cli.md says
    a plane the file does not have fails that file."""
    import tifffile

    from bgsub import batch
    from bgsub.config import Settings

    for plane in (0, -1, None):
        np.testing.assert_array_equal(plot.to_plane(small, plane=plane), small)
    with pytest.raises(ValueError, match=r"^plane 7 does not exist \(the image has 1 plane\); "
                       "use 0$"):
        plot.to_plane(small, plane=7)
    with pytest.raises(ValueError, match="plane 1 does not exist"):
        plot.to_plane(np.stack([small, small]), axes="CYX", plane=1)  # (one plane a channel)
    tifffile.imwrite(tmp_path / "flat.tif", small)
    settings = Settings(method="tophat", radius=6, figure=True, figure_plane=7).validated()
    jobs, _ = batch.plan_jobs([batch.Source(tmp_path / "flat.tif", Path("flat.tif"))],
                              tmp_path / "out", settings)
    batch.prepare_folders(jobs)
    failed = batch.run_batch(jobs, settings)[0]
    assert failed.status == "failed" and failed.message == (
        "--figure-plane 7: plane 7 does not exist (the image has 1 plane); use 0, middle or max")
    assert not (tmp_path / "out" / "flat.tif").exists()


def test_to_plane_follows_the_axes_and_keeps_channels_apart():
    data = np.arange(2 * 3 * 4 * 5 * 3).reshape(2, 4, 5, 3, 3)  # C, Y, X, Z, S
    shown = plot.to_plane(data, axes="CYXZS", plane=1)  # z=1 of each channel
    np.testing.assert_allclose(shown, data[:, :, :, 1, :].mean(axis=-1))
    projected = plot.to_plane(data, axes="CYXZS", project=True)
    np.testing.assert_allclose(projected, data.max(axis=3).mean(axis=-1))
    with pytest.raises(ValueError, match="plane 3 does not exist"):
        plot.to_plane(data, axes="CYXZS", plane=3)
    stack = np.random.default_rng(0).random((3, 2, 4, 6, 7))  # T, C, Z, Y, X
    np.testing.assert_array_equal(plot.to_plane(stack, axes="TCZYX", project=True),
                                  stack[1].max(axis=1))  # middle time point, each channel


def test_to_plane_leaves_the_alpha_sample_out():
    """Grey + alpha was shown as the mean of grey and alpha ([..., :3] holds both): a
    --figure of such a PNG drew every panel and profile half alpha."""
    grey = np.arange(6 * 7, dtype=np.uint8).reshape(6, 7)
    alpha = np.full_like(grey, 255)
    np.testing.assert_array_equal(plot.to_plane(np.stack([grey, alpha], -1), axes="YXS"), grey)
    rgba = np.random.default_rng(2).integers(0, 200, (6, 7, 4)).astype(np.uint8)
    for axes in ("YXS", None):
        np.testing.assert_allclose(plot.to_plane(rgba, axes=axes), rgba[..., :3].mean(-1))
    rgb = rgba[..., :3]
    np.testing.assert_allclose(plot.to_plane(rgb, axes="YXS"), rgb.mean(-1))
    fig = plot.compare(*(np.stack([grey, alpha], -1),) * 3, axes="YXS")
    np.testing.assert_array_equal(fig.axes[3].get_lines()[0].get_ydata(), grey[3])


def test_compare_draws_one_row_per_channel():
    image = np.random.default_rng(1).random((2, 16, 18))
    fig = plot.compare(image, image / 2, image / 2, axes="CYX", channel_names=["DAPI", "GFP"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["DAPI: raw", "DAPI: background", "DAPI: foreground"]
    assert titles[4:7] == ["GFP: raw", "GFP: background", "GFP: foreground"]
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), image[1])


def scale_bars(ax) -> list[tuple[float, str]]:
    from matplotlib_scalebar.scalebar import ScaleBar

    return [(a.dx, a.units) for a in ax.artists if isinstance(a, ScaleBar)]


def test_sweep_scores_each_tile_as_quality_does_measuring_the_objects_once():
    from bgsub.auto import quality
    from bgsub.data import synthetic

    image = synthetic((96, 96), object_radius=4, seed=3).image
    default = plot.sweep(image, ["tophat", "median"], [6, 12])
    direct = plot.sweep(image, ["tophat", "median"], [6, 12], score=quality)
    assert default.scores == direct.scores
