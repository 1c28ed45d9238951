"""Numeric kernels: the hot loops, compiled (Cython, OpenMP) when the package is built.

OpenMP's threads wait for work by sleeping rather than spinning unless the user chose
otherwise: the kernels' parallel regions are few and long, and spinning threads on a machine
shared with other processes (Dask workers, CI, napari) made a 1 ms loop wait tens of
milliseconds for a descheduled thread. This is read by the OpenMP runtime when it starts,
that is when the first compiled kernel is imported, so it is set here, before any of them.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
