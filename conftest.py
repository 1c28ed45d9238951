"""Repository-level pytest configuration: doctests of optional faces need their extras."""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("napari") is None:
    collect_ignore_glob.append("src/bgsub/napari/*")
