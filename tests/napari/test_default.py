"""The dock widget opens on the one default method and radius (see tests/test_engine.py)."""

from __future__ import annotations

from bgsub.methods import DEFAULT_METHOD, DEFAULT_RADIUS


def test_widget_opens_on_the_default(make_napari_viewer, need_screen, qtbot):
    from bgsub.napari._widget import BackgroundWidget

    widget = BackgroundWidget(make_napari_viewer())
    assert widget.method_combo.currentData() == DEFAULT_METHOD
    assert widget.radius.value() == DEFAULT_RADIUS
    assert widget.settings().method == DEFAULT_METHOD
