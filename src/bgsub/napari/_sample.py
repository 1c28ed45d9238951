"""Sample data for napari's File > Open Sample menu."""

from __future__ import annotations

from typing import Any

__all__ = ["sample_nuclei"]


def sample_nuclei() -> list[tuple[Any, dict[str, Any], str]]:
    """The bundled sample: 512x512 uint16 nuclei on a vignetted, tilted background.

    Returns
    -------
    list of LayerDataTuple
        One image layer, ``"bgsub sample nuclei"``.
    """
    from bgsub.data import sample

    return [(sample(), {"name": "bgsub sample nuclei", "colormap": "gray"}, "image")]
