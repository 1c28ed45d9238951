"""The warning bgsub gives when an estimate's assumptions do not hold."""

from __future__ import annotations

import warnings

__all__ = ["BackgroundWarning", "warn"]


class BackgroundWarning(UserWarning):
    """A background estimate whose assumptions did not hold: the result may be wrong.

    The message is one line naming the reason and the fix, e.g. "only 12 % of
    the pixels look like background ...; use a larger radius or
    method='rolling_ball'". Turn it into an error with
    ``warnings.simplefilter("error", bgsub.BackgroundWarning)``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("only 12 % of the pixels look like background; use a larger radius")
    >>> caught[0].category.__name__
    'BackgroundWarning'
    """


def warn(message: str, stacklevel: int = 3) -> None:
    """Issue a :class:`BackgroundWarning` with a one-line ``message``."""
    warnings.warn(message, BackgroundWarning, stacklevel=stacklevel)
