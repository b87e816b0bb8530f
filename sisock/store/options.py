"""The store's settings as a node's command line writes them: durations and summary tiers.

``--retention 30d`` and ``--rollups 1m:365d,1h,1d`` (`sisock.node.run.add_store_arguments`)
are read here, so that `sisock.store.store.Store.open` and the command line
check them the same way.
"""

import math

from sisock.wire import timeutil


def duration(text):
    """Seconds of ``text`` (`sisock.wire.timeutil.duration`: ``90``, ``15m``, ``30d``, ``1y``, ``inf``), which
    must be > 0.

    Raises
    ------
    ValueError
        If it is none of these or not > 0; the message quotes it.
    """
    try:
        value = timeutil.duration(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{text!r} is not a duration > 0 such as 90, 15m, 1h, 30d, 1y or inf")
    return value


def rollups(text):
    """The tiers of ``--rollups``: ``WIDTH[:RETENTION],...`` (e.g. ``1m:365d,1h,1d``) or ``none``.

    Returns
    -------
    tuple of (float, float or None)
        ``(width, retention)`` in seconds, None for no age limit.

    Raises
    ------
    ValueError
        On a bad duration, widths not ascending or not multiples of each
        other; the message says which part.
    """
    if text.strip().lower() in ("", "none"):
        return ()
    tiers = []
    for part in text.split(","):
        width, _, keep = part.partition(":")
        tiers.append((duration(width), duration(keep) if keep.strip() else None))
    return check_rollups(tiers)


def check_rollups(tiers):
    """``tiers`` (``[(width, retention or None), ...]``) checked and normalised; see `rollups`.

    Raises
    ------
    ValueError
        If a width is not finite and > 0, the widths are not ascending or
        one is not a whole multiple of the one before, or a retention is
        not > 0.
    """
    out = []
    for width, keep in tiers:
        width = float(width)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"a tier width must be a finite number of seconds > 0, got {width!r}")
        if keep is not None and not float(keep) > 0:
            raise ValueError(f"the retention of the {width:g} s tier must be > 0 seconds or none, got {keep!r}")
        keep = None if keep is None or math.isinf(float(keep)) else float(keep)
        if out:
            ratio = width / out[-1][0]
            if ratio <= 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(f"tier widths must ascend, each a whole multiple of the one before: "
                                 f"{width:g} s after {out[-1][0]:g} s")
        out.append((width, keep))
    return tuple(out)
