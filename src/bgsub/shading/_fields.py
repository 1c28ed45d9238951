"""Smooth fields on a working grid: binning tiles down, cosine bases, weighted fits, upsampling.

Every tile is reduced to a working grid by averaging bins of pixels (the bins
differ by at most one pixel when the size does not divide). A field on that grid
is fitted as a 2D cosine (DCT-II) series in the normalised coordinate
``u = (pixel centre) / size`` (plus two quadratics per axis for the edges), and
interpolated back to full resolution with cubic splines.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Grid", "cosine_basis", "fit_smooth", "upsample"]


class Grid:
    """The working grid of a tile shape: bin edges per axis and their centres.

    Examples
    --------
    >>> grid = Grid((10, 7), 4)
    >>> grid.shape
    (4, 4)
    >>> grid.bin(np.ones((10, 7))).tolist()[0]
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, shape: tuple[int, int], working_size: int) -> None:
        self.full = (int(shape[0]), int(shape[1]))
        self.edges = tuple(np.linspace(0, n, min(working_size, n) + 1).round().astype(np.intp)
                           for n in self.full)
        self.shape = (len(self.edges[0]) - 1, len(self.edges[1]) - 1)
        self.centres = tuple(((e[:-1] + e[1:]) / 2.0) / n
                             for e, n in zip(self.edges, self.full, strict=True))
        self._counts = np.outer(np.diff(self.edges[0]), np.diff(self.edges[1])).astype(np.float64)

    @property
    def pixels_per_bin(self) -> float:
        """The median number of the tile's pixels a bin averages."""
        return float(np.median(self._counts))

    def bin(self, tile: np.ndarray) -> np.ndarray:
        """The mean of each bin of a (..., Y, X) tile, float64."""
        summed = np.add.reduceat(tile, self.edges[0][:-1], axis=-2, dtype=np.float64)
        summed = np.add.reduceat(summed, self.edges[1][:-1], axis=-1)
        return summed / self._counts


def cosine_basis(centres: np.ndarray, terms: int, boundary: bool = True) -> np.ndarray:
    """cos(pi k u) for k < ``terms`` at the normalised positions ``centres``, (len, columns).

    With ``boundary`` (and ``terms`` >= 2), two more columns ``u**2`` and
    ``(1 - u)**2``: a cosine series alone has zero slope at both edges, so a
    vignetting that is still falling at the tile's edge needs many terms (its
    coefficients decay only as 1/k**2); with the two quadratics, 8 terms fit
    common vignetting shapes to 1e-4.

    Examples
    --------
    >>> cosine_basis(np.array([0.25, 0.75]), 2, boundary=False).round(3).tolist()
    [[1.0, 0.707], [1.0, -0.707]]
    """
    columns = np.cos(np.pi * np.outer(centres, np.arange(terms)))
    if boundary and terms >= 2:
        columns = np.column_stack([columns, centres**2, (1.0 - centres) ** 2])
    return columns


def _frequencies(columns: int) -> np.ndarray:
    """The frequency a column of :func:`cosine_basis` stands for (the quadratics count as 1)."""
    if columns >= 4:
        return np.concatenate([np.arange(columns - 2), [1, 1]]).astype(np.float64)
    return np.arange(columns, dtype=np.float64)


def _weighted_gram(a: np.ndarray, first: tuple[np.ndarray, np.ndarray],
                   second: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """sum over y, x of a[y, x] phi_kl(y, x) psi_mn(y, x), as a matrix (K1, K2)."""
    t = np.einsum("yk,ym,yx->kmx", first[0], second[0], a, optimize=True)
    g = np.einsum("kmx,xl,xn->klmn", t, first[1], second[1], optimize=True)
    return g.reshape(first[0].shape[1] * first[1].shape[1], second[0].shape[1] * second[1].shape[1])


def _roughness(ky: int, kx: int) -> np.ndarray:
    """Penalty weight of each 2D term: its squared Laplacian eigenvalue (0 for the mean)."""
    k, l_ = np.meshgrid(_frequencies(ky), _frequencies(kx), indexing="ij")
    return ((k**2 + l_**2) ** 2).ravel()


def fit_smooth(weights: list[list[np.ndarray]], rhs: list[np.ndarray],
               bases: list[tuple[np.ndarray, np.ndarray]], penalty: float) -> list[np.ndarray]:
    """Solve a weighted least-squares problem for one or more smooth fields.

    The fields ``f_a = P_a c_a`` (``P_a = bases[a]``, a separable cosine basis)
    minimise ``sum_ab c_a^T P_a^T diag(weights[a][b]) P_b c_b - 2 sum_a c_a^T
    P_a^T rhs[a]`` plus ``penalty`` times the roughness of each field.

    Returns
    -------
    list of ndarray
        Each field on the grid (y, x).

    Examples
    --------
    >>> u = (np.arange(16) + 0.5) / 16
    >>> basis = (cosine_basis(u, 3, boundary=False), cosine_basis(u, 3, boundary=False))
    >>> target = np.add.outer(np.cos(np.pi * u), 2.0 + 0 * u)
    >>> (field,) = fit_smooth([[np.ones((16, 16))]], [target], [basis], 0.0)
    >>> bool(np.allclose(field, target))
    True
    """
    sizes = [py.shape[1] * px.shape[1] for py, px in bases]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    system = np.zeros((starts[-1], starts[-1]))
    vector = np.zeros(starts[-1])
    for a, (py, px) in enumerate(bases):
        here = slice(starts[a], starts[a + 1])
        vector[here] = (py.T @ rhs[a] @ px).ravel()
        for b in range(a, len(bases)):
            block = _weighted_gram(weights[a][b], bases[a], bases[b])
            system[here, starts[b]:starts[b + 1]] = block
            system[starts[b]:starts[b + 1], here] = block.T
        index = np.arange(starts[a], starts[a + 1])
        scale = max(float(np.diag(system)[index].mean()), np.finfo(float).tiny)
        # a tiny ridge keeps terms that no data constrains (a dark-field without drift) small
        system[index, index] += scale * (penalty * _roughness(py.shape[1], px.shape[1]) + 1e-9)
    coefficients = _solve_symmetric(system, vector)
    return [py @ coefficients[starts[a]:starts[a + 1]].reshape(py.shape[1], px.shape[1]) @ px.T
            for a, (py, px) in enumerate(bases)]


def _solve_symmetric(system: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``system^-1 vector`` for a symmetric positive-(semi)definite ``system``: Cholesky.

    SciPy's Cholesky rather than ``np.linalg.solve``: the systems are small (about
    100 unknowns) and NumPy's LU hands them to a threaded BLAS, which on a loaded
    machine made each solve 100x slower than the factorisation itself.
    """
    from scipy import linalg  # lazily: keeps `import bgsub` light

    try:
        return linalg.cho_solve(linalg.cho_factor(system, check_finite=False), vector,
                                check_finite=False)
    except linalg.LinAlgError:  # semi-definite (no data on some term): least squares
        return linalg.lstsq(system, vector, check_finite=False)[0]


def upsample(field: np.ndarray, grid: Grid) -> np.ndarray:
    """Interpolate ``field`` (on ``grid``) to every full-size pixel: separable cubic splines.

    The half bin beyond the outermost bin centres is extrapolated by the end
    polynomials, so a field still falling at the tile's edge keeps falling.
    """
    if tuple(field.shape) == grid.full:
        return np.array(field, dtype=np.float64)
    my, mx = (_interpolation_matrix(c, n) for c, n in zip(grid.centres, grid.full, strict=True))
    return my @ np.asarray(field, dtype=np.float64) @ mx.T


def _interpolation_matrix(centres: np.ndarray, size: int) -> np.ndarray:
    """(size, len(centres)): row m interpolates pixel centre m from values at ``centres``."""
    from scipy.interpolate import CubicSpline  # lazily: keeps `import bgsub` light

    if len(centres) == 1:
        return np.ones((size, 1))
    kind = "not-a-knot" if len(centres) > 3 else "natural"
    spline = CubicSpline(centres, np.eye(len(centres)), bc_type=kind, extrapolate=True)
    return spline((np.arange(size) + 0.5) / size)
