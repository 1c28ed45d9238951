"""Tile sets: lists, stacks, files, folders, Zarr stores and Dask arrays, read one tile at a time.

Shading is estimated from many tiles that share one field, so every input is seen
as ``count`` tiles of ``channels`` x Y x X pixels, read (and binned to the working
grid) one at a time: memory holds the binned stack and one tile, never the set.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgsub._dtypes import check_dtype
from bgsub.shading._fields import Grid

__all__ = ["TileSet", "is_dask_array", "samples_as_channels", "tile_set"]


def is_dask_array(value: Any) -> bool:
    """Whether ``value`` is a Dask array (without importing Dask for NumPy input)."""
    return type(value).__module__.startswith("dask.")


@dataclass
class TileSet:
    """``count`` tiles of shape (channels, Y, X); ``channel_axis`` says if the input had one."""

    count: int
    channels: int
    shape: tuple[int, int]
    dtype: np.dtype
    channel_axis: bool
    read: Callable[[int], np.ndarray]
    names: Sequence[str]
    lazy: Any = None  # the Dask array (count, channels, Y, X), binned with Dask when set

    def binned(self, indices: Sequence[int], grid: Grid) -> np.ndarray:
        """Tiles ``indices`` binned to ``grid``: float64 (len, channels, y, x), checked finite."""
        if self.lazy is not None:
            stack = _binned_dask(self.lazy[np.asarray(indices)], grid)
        else:
            stack = np.empty((len(indices), self.channels, *grid.shape))
            # reading and binning release the GIL: a few threads overlap file reads
            other_dtypes: dict[str, np.dtype] = {}
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                for row, tile in enumerate(pool.map(lambda i: self._binned_tile(i, grid),
                                                    indices)):
                    stack[row], dtype = tile
                    if dtype != self.dtype:
                        other_dtypes.setdefault(self.names[indices[row]], dtype)
            if other_dtypes:
                self._warn_of_dtypes(other_dtypes)
        bad = ~np.isfinite(stack).all(axis=(1, 2, 3))
        if bad.any():
            first = self.names[indices[int(np.argmax(bad))]]
            raise ValueError(f"tile {first} contains NaN or infinite values; replace them "
                             "first (e.g. np.nan_to_num) or leave that tile out")
        return stack

    def holds_whole_counts(self, index: int) -> bool:
        """Whether the tiles hold whole counts: an integer dtype, or float tiles whose values
        (tile ``index``'s, read again) are all whole numbers -- integer data saved as float,
        whose bins are as grainy as the integers' (see ``lowrank.QUANTUM_COUNTS``).

        Examples
        --------
        >>> tile_set(np.array([[[1.0, 2.0]], [[0.0, 3.0]]])).holds_whole_counts(0)
        True
        >>> tile_set(np.array([[[1.5, 2.0]], [[0.0, 3.0]]])).holds_whole_counts(0)
        False
        """
        if self.dtype.kind in "iu":
            return True
        if self.dtype.kind != "f":
            return False
        tile = self._tile(index)
        return bool(np.isfinite(tile).all() and np.array_equal(tile, np.rint(tile)))

    def _binned_tile(self, index: int, grid: Grid) -> tuple[np.ndarray, np.dtype]:
        tile = self._tile(index)
        return grid.bin(tile), tile.dtype

    def _warn_of_dtypes(self, other: dict[str, np.dtype]) -> None:
        """One warning for tiles whose dtype is not the first's: tiles of one acquisition
        share one (8-bit among 16-bit tiles are usually another camera setting or an
        export), and one profile of both may fit neither."""
        from bgsub._warnings import warn

        name, dtype = next(iter(other.items()))
        more = f" (and {len(other) - 1} more)" if len(other) > 1 else ""
        warn(f"tile {name}{more} is {dtype}, the first, {self.names[0]}, {self.dtype}; "
             "tiles of one acquisition share one dtype: check that they belong together, "
             "or estimate each kind separately")

    def _tile(self, index: int) -> np.ndarray:
        tile = np.asarray(self.read(index))
        tile = tile.reshape(1, *tile.shape) if tile.ndim == 2 else tile
        if tile.shape != (self.channels, *self.shape):
            # (with or without channels alike where the channel counts differ: a grey tile
            # among RGB ones, whose Y, X match, was "(64, 64) but the first has (64, 64)")
            both = self.channel_axis or tile.shape[0] != self.channels
            first = (self.channels, *self.shape) if both else self.shape
            here = tile.shape if both else tile.shape[-2:]
            kind = "channel count" if tile.shape[0] != self.channels else "size"
            raise ValueError(f"tile {self.names[index]} has shape {tuple(here)} but the first "
                             f"has {tuple(first)}; all tiles must have one shape: estimate "
                             f"each {kind} separately")
        return tile


def _binned_dask(lazy: Any, grid: Grid) -> np.ndarray:
    stack = lazy.rechunk({2: -1, 3: -1})
    out = stack.map_blocks(grid.bin, dtype=np.float64,
                           chunks=(stack.chunks[0], stack.chunks[1], (grid.shape[0],),
                                   (grid.shape[1],)))
    return np.asarray(out.compute())


def tile_set(images: Any) -> TileSet:
    """Describe ``images`` as a tile set, reading nothing but shapes.

    Accepts a (N, Y, X) or (N, C, Y, X) array, a Dask or Zarr array of that
    shape, a list of (Y, X) or (C, Y, X) arrays, a list of image files, a
    folder of image files, a glob pattern of image files (``"plate/*_w1.tif"``:
    one channel of a screen's folder), or one file or Zarr store holding a stack.
    """
    if isinstance(images, (str, Path)):
        return _from_path(Path(images))
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("no tiles given; pass a list of images, a stack or a folder")
        if all(isinstance(i, (str, Path)) for i in images):
            return _from_files([Path(i) for i in images])
        return _from_list(images)
    if is_dask_array(images):
        return _from_stack(images, lazy=True)
    if hasattr(images, "shape") and hasattr(images, "dtype") and hasattr(images, "__getitem__"):
        return _from_stack(images if hasattr(images, "chunks") else np.asarray(images))
    raise TypeError(f"cannot estimate shading from {type(images).__name__}; pass a stack "
                    "(N, Y, X) or (N, C, Y, X), a list of arrays or files, or a folder")


def _checked(shape: tuple[int, ...], dtype: Any, what: str) -> tuple[int, bool]:
    check_dtype(dtype)
    if len(shape) not in (3, 4):
        raise ValueError(f"{what} has shape {tuple(shape)}; shading needs a stack of tiles "
                         "(N, Y, X) or (N, C, Y, X), or a list of 2D tiles")
    if shape[0] < 2:
        raise ValueError(f"{what} holds {shape[0]} tile; shading is estimated from many tiles "
                         "(at least 2, ideally 50 or more)")
    if len(shape) == 4 and shape[-1] in (3, 4) and min(shape[-3:-1]) > 4:
        # (read as channels first, RGB tiles would give a flat-field of Y channels, each X
        # by 3 pixels)
        raise ValueError(f"{what} has shape {tuple(shape)}: its last axis of {shape[-1]} looks "
                         "like RGB samples, but shading reads (N, C, Y, X) tiles; move the "
                         "samples before Y and X: np.moveaxis(tiles, -1, -3)")
    return (shape[1] if len(shape) == 4 else 1), len(shape) == 4


def _from_stack(array: Any, lazy: bool = False, what: str = "the stack") -> TileSet:
    channels, channel_axis = _checked(array.shape, array.dtype, what)
    names = [str(i) for i in range(array.shape[0])]
    four = (array if channel_axis else array[:, None]) if lazy else None
    return TileSet(array.shape[0], channels, tuple(array.shape[-2:]), np.dtype(array.dtype),
                   channel_axis, lambda i: array[i], names, four)


def _from_list(images: Sequence[Any]) -> TileSet:
    first = np.asarray(images[0])
    if first.ndim not in (2, 3):
        raise ValueError(f"tile 0 has shape {first.shape}; each tile must be (Y, X) or (C, Y, X)")
    channels, channel_axis = _checked((len(images), *first.shape), first.dtype, "the list")
    return TileSet(len(images), channels, tuple(first.shape[-2:]), first.dtype, channel_axis,
                   lambda i: images[i], [str(i) for i in range(len(images))])


def _from_path(path: Path) -> TileSet:
    from bgsub import io

    if path.is_dir() and not _is_store(path):
        files = _image_files(path.iterdir())
        if not files:
            raise ValueError(f"{path} holds no image files (TIFF, PNG, JPEG or Zarr); "
                             "give the folder of the tiles")
        return _from_files(files)
    if not path.exists() and glob.has_magic(str(path)):
        files = _image_files(Path(p) for p in glob.glob(str(path), recursive=True))
        if not files:
            raise ValueError(f"{path} matches no image file (TIFF, PNG, JPEG or Zarr); check "
                             "the pattern (quote it, so that the shell leaves it to bgsub)")
        return _from_files(files)
    array, meta = io.open_image(path)
    tiles = _FileTiles(array, meta.axes, path.name)
    if tiles.shape[0] == 1:  # (its channels or colours are not tiles)
        raise ValueError(f"{path.name} is one image (axes {meta.axes}), not a set of tiles; "
                         "shading is estimated from many tiles: give their folder, several "
                         "files, or a stack file with the tiles along T, Z or another axis")
    return _from_stack(tiles, what=path.name)


class _FileTiles:
    """A stack file's array read as (N, C, Y, X) or (N, Y, X), a tile at a time: its channel
    axis (``C``, or RGB samples ``S``) is the tiles' channels, and every other axis but Y and
    X (``T``, ``Z``, ``Q``, in the file's order) counts tiles, as a file's axes say (an
    array's do not: an (N, C, Y, X) array is taken as it is)."""

    def __init__(self, array: Any, axes: str, name: str) -> None:
        channels = [a for a in "CS" if a in axes]
        if len(channels) > 1:
            raise ValueError(f"{name} has axes {axes}: both channels (C) and RGB samples (S); "
                             "shading reads one channel axis: save the channels as one axis")
        self._array = array
        self._tail = [axes.index(a) for a in (*channels, "Y", "X")]
        self._lead = [i for i in range(len(axes)) if i not in self._tail]
        self._counts = tuple(array.shape[i] for i in self._lead)
        self.shape = (int(np.prod(self._counts)), *(array.shape[i] for i in self._tail))
        self.dtype = array.dtype

    def __getitem__(self, index: int) -> np.ndarray:
        key: list[Any] = [slice(None)] * len(self._array.shape)
        for axis, at in zip(self._lead, np.unravel_index(index, self._counts), strict=True):
            key[axis] = int(at)
        kept = sorted(self._tail)  # the axes the key leaves, in the file's order
        return np.transpose(np.asarray(self._array[tuple(key)]),
                            [kept.index(axis) for axis in self._tail])


def _image_files(paths: Any) -> list[Path]:
    """The image files among ``paths`` (by suffix; hidden ones and figures bgsub drew left
    out), sorted by path."""
    from bgsub import io

    return sorted(p for p in paths if not p.name.startswith(".")
                  and p.suffix.lower() in io.IMAGE_SUFFIXES and not io.is_bgsub_figure(p))


def _is_store(path: Path) -> bool:
    """Whether the folder ``path`` is a Zarr store (read as a stack), not a folder of tiles;
    an HCS plate is one too, and its reader says which of its fields to give."""
    from bgsub import io

    return io.is_zarr(path)


def _from_files(files: list[Path]) -> TileSet:
    if len(files) < 2:
        raise ValueError(f"{len(files)} file given; shading is estimated from many tiles "
                         "(at least 2, ideally 50 or more)")
    first = _read_tile(files[0])
    channels, channel_axis = _checked((len(files), *first.shape) if first.shape[0] > 1
                                      else (len(files), *first.shape[1:]), first.dtype,
                                      "the files")
    return TileSet(len(files), channels, tuple(first.shape[-2:]), first.dtype, channel_axis,
                   lambda i: _read_tile(files[i]), [f.name for f in files])


def _read_tile(path: Path) -> np.ndarray:
    """One tile file as (C, Y, X): a 2D image, a CYX stack or an RGB image (samples last)."""
    from bgsub import io
    from bgsub.shading.profile import PROFILE_KIND

    image, meta = io.read_image(path)
    if (meta.provenance or {}).get("kind") == PROFILE_KIND:
        raise ValueError(f"{path.name} is a bgsub shading profile, not a tile; move it out of "
                         "the tiles' folder")
    image, axes = samples_as_channels(image, meta.axes)
    if axes == "YX":
        return image[None]
    if axes == "CYX":
        return image
    raise ValueError(f"{path.name} has axes {axes}; shading expects one 2D (or multichannel "
                     "CYX) tile per file, or one stack file given on its own")


def samples_as_channels(image: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """``image`` and its ``axes`` with RGB samples, interleaved (``...YXS``) or planar
    (``...SYX``), as the channel axis before Y and X (``...CYX``): a flat-field per colour."""
    if axes.endswith("YXS"):
        return np.moveaxis(image, -1, -3), axes[:-3] + "CYX"
    if axes.endswith("SYX"):
        return image, axes[:-3] + "CYX"
    return image, axes
