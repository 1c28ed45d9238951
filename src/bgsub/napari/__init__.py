"""napari plugin of bgsub: a dock widget, one function per method, sample data.

Install with ``pip install "bgsub[napari]"``; napari then lists it under
*Plugins > bgsub*. Everything is declared in ``napari.yaml`` beside this file
and imported only when napari asks for it, so importing :mod:`bgsub` (or this
package) never imports napari or Qt.
"""

__all__: list[str] = []
