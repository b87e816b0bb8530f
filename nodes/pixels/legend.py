"""What a display shows and what its colours mean: the arguments of ``describe``, checked."""

from __future__ import annotations

from typing import Any

from nodes.pixels.display import parse_color
from sisock.wire.errors import InvalidArgument

#: Longest ``about`` text, in characters.
ABOUT_MAX = 300
#: Most entries of a legend, and the longest label, in characters.
LEGEND_MAX = 32
LABEL_MAX = 80


def parse_description(about: Any, legend: Any) -> tuple[str, dict[str, list[int]]]:
    """``(about, legend)`` from the wire, checked.

    Parameters
    ----------
    about : str
        One line on what the display shows, at most `ABOUT_MAX` characters ("" for none).
    legend : dict or None
        ``{label: [r, g, b]}``: what each colour means, in the order shown; at most `LEGEND_MAX`
        entries, labels non-empty and at most `LABEL_MAX` characters. None for none.

    Returns
    -------
    tuple of (str, dict)
        The text and the legend ``{label: [r, g, b]}`` (integers 0 to 255).

    Raises
    ------
    InvalidArgument
        Naming ``about`` or ``legend`` (and the label) when one is not as described.
    """
    if not isinstance(about, str) or len(about) > ABOUT_MAX:
        raise InvalidArgument(f"about: must be a string of at most {ABOUT_MAX} characters, got {about!r:.60}")
    if legend is None:
        return about, {}
    if not isinstance(legend, dict) or len(legend) > LEGEND_MAX:
        raise InvalidArgument(f"legend: must be an object {{label: [r, g, b]}} of at most {LEGEND_MAX} entries, "
                              f"got {legend!r:.60}")
    checked = {}
    for label, color in legend.items():
        if not isinstance(label, str) or not 0 < len(label) <= LABEL_MAX:
            raise InvalidArgument(f"legend: a label must be a non-empty string of at most {LABEL_MAX} characters, "
                                  f"got {label!r:.60}")
        try:
            checked[label] = parse_color(color).tolist()
        except InvalidArgument as exc:
            raise InvalidArgument(f"legend: {label!r:.60}: {exc.message}") from None
    return about, checked
