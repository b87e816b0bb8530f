"""What the brewing node stores: IO configuration, temperature profiles and their checks.

Records are JSON objects checked with pydantic models (unknown keys and
wrong types refused); a record that does not fit raises
`sisock.wire.errors.InvalidArgument` with a message naming the key.

=============  ===============================================================
kind           keys
=============  ===============================================================
controller     ``name``; ``kind``: simulated, brewpi-serial or brewpi-socket;
               ``address``: "" (simulated), a serial port or host:port
chamber        ``name``; ``controller`` (id); ``mode`` (off, beer, fridge,
               profile); ``beer_set`` and ``fridge_set`` (C or null);
               ``profile`` (id or null); ``profile_start`` (UNIX s or null)
device         ``chamber`` (id); ``slot`` (int >= 0, the controller's IO);
               ``hardware`` (text); ``function``: beer_probe, fridge_probe,
               room_probe, heater, cooler or level_switch
profile        ``name``; ``points``: ``[{"days": d, "temperature": C}, ...]``
               (days from the chamber's profile start) or ``[{"time": s,
               "temperature": C}, ...]`` (UNIX seconds UTC), strictly
               increasing, at least one
=============  ===============================================================
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nodes.brewing.control import MODES
from sisock.wire.errors import InvalidArgument

NAME = r"^[A-Za-z0-9_\-]{1,40}$"
FUNCTIONS = ("beer_probe", "fridge_probe", "room_probe", "heater", "cooler", "level_switch")
CONTROLLER_KINDS = ("simulated", "brewpi-serial", "brewpi-socket")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Controller(_Record):
    name: str = Field(pattern=NAME)
    kind: Literal[CONTROLLER_KINDS] = "simulated"
    address: str = ""

    @model_validator(mode="after")
    def _address(self):
        ok = {"simulated": self.address == "", "brewpi-serial": self.address.startswith("/dev/"),
              "brewpi-socket": re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", self.address) is not None}[self.kind]
        if not ok:
            raise ValueError(f"address {self.address!r} does not fit kind {self.kind}: "
                             "'' for simulated, /dev/... for brewpi-serial, host:port for brewpi-socket")
        return self


class Chamber(_Record):
    name: str = Field(pattern=NAME)
    controller: int
    mode: Literal[MODES] = "off"
    beer_set: float | None = None
    fridge_set: float | None = None
    profile: int | None = None
    profile_start: float | None = None


class Device(_Record):
    chamber: int
    slot: int = Field(ge=0, le=255)
    hardware: str = Field(default="", max_length=80)
    function: Literal[FUNCTIONS]


class Point(_Record):
    temperature: float = Field(ge=-20, le=110)
    days: float | None = Field(default=None, ge=0)
    time: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_abscissa(self):
        if (self.days is None) == (self.time is None):
            raise ValueError("a point has either days (from the profile start) or time (UNIX s), not both")
        return self


class Profile(_Record):
    name: str = Field(pattern=NAME)
    points: list[Point] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _sorted(self):
        absolute = {p.time is not None for p in self.points}
        if len(absolute) > 1:
            raise ValueError("points must all have days or all have time")
        xs = [p.time if p.time is not None else p.days for p in self.points]
        for i in range(1, len(xs)):
            if xs[i] <= xs[i - 1]:
                what = "duplicate" if xs[i] == xs[i - 1] else "unsorted"
                raise ValueError(f"{what} points: point {i} ({xs[i]}) is not after point {i - 1} ({xs[i - 1]})")
        return self


MODELS = {"controller": Controller, "chamber": Chamber, "device": Device, "profile": Profile}


def check(kind: str, record: object) -> dict:
    """The record of ``kind`` with its defaults, checked.

    Parameters
    ----------
    kind : str
        A key of `MODELS`.
    record : dict
        The record as a caller sent it.

    Returns
    -------
    dict

    Raises
    ------
    InvalidArgument
        Unknown kind, not an object, or a key missing, unknown or out of range.
    """
    model = MODELS.get(kind)
    if model is None:
        raise InvalidArgument(f"kind must be one of {sorted(MODELS)}, got {kind!r:.40}")
    if not isinstance(record, dict):
        raise InvalidArgument(f"a {kind} must be an object, got {type(record).__name__}")
    try:
        return model.model_validate(record).model_dump(exclude_none=kind == "profile")
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a check of the whole record: its message says what
            raise InvalidArgument(f"{kind}: {message}") from None
        where = ".".join(str(x) for x in error["loc"])
        raise InvalidArgument(f"{kind} {where}: {message}, got {error.get('input')!r:.60}") from None


def profile_temperature(profile: dict, t: float, start: float | None) -> float | None:
    """The temperature (C) of ``profile`` at ``t`` (UNIX s), linear between points, flat outside.

    Parameters
    ----------
    profile : dict
        A checked profile.
    t : float or ndarray
        UNIX seconds UTC.
    start : float or None
        UNIX seconds UTC the profile started at (for points in days); None
        makes a profile in days give None.

    Returns
    -------
    float or None
    """
    points = profile["points"]
    if "time" in points[0]:
        xs = [p["time"] for p in points]
    elif start is None:
        return None
    else:
        xs = [start + p["days"] * 86400.0 for p in points]
    return float(np.interp(t, xs, [p["temperature"] for p in points]))
