"""The display model of the pixel node: a grid or strip of RGB pixels, keys, brightness.

A :class:`Display` holds two frames, NumPy ``uint8`` arrays of shape
``(height, width, 3)``: ``frame``, what is shown, and ``pending``, what
the commands drew since (a strip of N pixels is ``height=1, width=N``).
Every command validates all of its arguments before changing anything,
so a bad one leaves the display as it was and raises
`sisock.wire.errors.InvalidArgument` with a message naming the argument.

Pixels are addressed by ``index`` (``y * width + x``), by ``x, y``, or by
a ``key``: a name that gets a position on first use by the allocation
scheme (``linear``: the lowest free index; ``random``: any free index;
``fixed``: the position the configuration gives the key, other keys
refused). A key keeps its position until released; a display whose
positions are all taken refuses a new key.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from sisock.wire.errors import InvalidArgument

#: Allocation schemes of keys to positions.
ALLOCATIONS = ("linear", "random", "fixed")
#: Most characters in a key.
KEY_MAX = 128


class Display:
    """A display of ``height x width`` RGB pixels (see the module docstring).

    Parameters
    ----------
    width, height : int
        Pixels per row and rows; a strip is ``height=1``.
    allocation : {"linear", "random", "fixed"}
        How keys get positions.
    key_map : dict, optional
        ``{key: index}`` of the ``fixed`` allocation.
    seed : int, optional
        Seed of the ``random`` allocation.

    Attributes
    ----------
    frame, pending : numpy.ndarray, uint8, shape (height, width, 3)
        The shown frame and the frame being drawn.
    brightness : float
        Global brightness, 0 (off) to 1 (full); applied by the outputs.
    keys : dict
        ``{key: index}`` of the keys holding a position.

    Raises
    ------
    ValueError
        Bad sizes, allocation or key map (a configuration error).
    """

    def __init__(self, width: int = 8, height: int = 8, allocation: str = "linear",
                 key_map: dict[str, int] | None = None, seed: int | None = None):
        if not (width >= 1 and height >= 1 and width * height <= 1 << 16):
            raise ValueError(f"display size {width}x{height}: each at least 1, at most 65536 pixels")
        if allocation not in ALLOCATIONS:
            raise ValueError(f"allocation {allocation!r}: must be one of {', '.join(ALLOCATIONS)}")
        self.width, self.height, self.allocation = int(width), int(height), allocation
        self.key_map = dict(key_map or {})
        if (allocation == "fixed") != bool(self.key_map):
            raise ValueError("a key map {key: index} is for the fixed allocation, which needs one")
        for key, index in self.key_map.items():
            if not (isinstance(index, int) and 0 <= index < self.size):
                raise ValueError(f"key map: position of {key!r} must be an index from 0 to {self.size - 1}")
        self.frame = np.zeros((self.height, self.width, 3), np.uint8)
        self.pending = self.frame.copy()
        self.brightness = 1.0
        self.keys: dict[str, int] = {}
        self._rng = np.random.default_rng(seed)

    @property
    def size(self) -> int:
        """Number of pixels, ``width * height``."""
        return self.width * self.height

    def position(self, index: int) -> dict[str, int]:
        """``{"index", "x", "y"}`` of pixel ``index``."""
        return {"index": index, "x": index % self.width, "y": index // self.width}

    # -- commands --------------------------------------------------------------
    def set(self, color: Any, key: Any = None, index: Any = None, x: Any = None, y: Any = None) -> dict[str, Any]:
        """Colour one pixel of the pending frame, named by exactly one of ``key``, ``index`` or ``x, y``.

        Parameters
        ----------
        color : sequence of 3 int
            ``[r, g, b]``, each 0 to 255.
        key : str, optional
            A key; gets a position on first use (see the module docstring).
        index : int, optional
            ``y * width + x``, 0 to ``size - 1``.
        x, y : int, optional
            Column (0 to ``width - 1``) and row (0 to ``height - 1``), together.

        Returns
        -------
        dict
            ``{"index", "x", "y"}`` of the pixel, and ``"key"`` if given.

        Raises
        ------
        InvalidArgument
            A bad colour or position, not exactly one way of naming the
            pixel, a key not in the fixed map, or a new key on a full display.
        """
        rgb = parse_color(color)
        given = [name for name, v in (("key", key), ("index", index), ("x, y", x if x is not None else y))
                 if v is not None]
        if len(given) != 1:
            raise InvalidArgument(f"set: name the pixel by exactly one of key, index or x and y; got {given or 'none'}")
        if key is not None:
            where = self._allocate(key)
        elif index is not None:
            where = self._index("index", index, self.size)
        else:
            where = self._index("y", y, self.height) * self.width + self._index("x", x, self.width)
        self.pending.reshape(-1, 3)[where] = rgb
        return dict(self.position(where), **({"key": key} if key is not None else {}))

    def fill(self, color: Any) -> None:
        """Colour every pixel of the pending frame ``color`` (``[r, g, b]``, 0 to 255)."""
        self.pending[...] = parse_color(color)

    def clear(self) -> None:
        """Make every pixel of the pending frame black (keys keep their positions)."""
        self.pending[...] = 0

    def set_frame(self, frame: Any) -> None:
        """Replace the pending frame with ``frame`` (see `parse_frame`)."""
        self.pending[...] = self.parse_frame(frame)

    def set_brightness(self, value: Any) -> None:
        """Set the global brightness, a number from 0 to 1.

        Raises
        ------
        InvalidArgument
            If ``value`` is not a number from 0 to 1.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InvalidArgument(f"brightness: must be a number from 0 to 1, got {value!r:.40}")
        self.brightness = float(value)

    def release(self, key: Any) -> dict[str, Any]:
        """Free the position of ``key`` and blacken its pixel in the pending frame.

        Raises
        ------
        InvalidArgument
            If ``key`` holds no position.
        """
        check_key(key)
        if key not in self.keys:
            raise InvalidArgument(f"release: key {key!r:.80} holds no position; keys: {sorted(self.keys)[:10]}")
        where = self.keys.pop(key)
        self.pending.reshape(-1, 3)[where] = 0
        return dict(self.position(where), key=key)

    def show(self) -> None:
        """Make the pending frame the shown one."""
        self.frame[...] = self.pending

    # -- state -----------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The display as ``get_state`` answers it.

        Returns
        -------
        dict
            ``width``, ``height``, ``brightness``, ``frame`` and ``pending``
            (nested lists ``[row][column][r, g, b]``) and ``keys``
            ``{key: {"index", "x", "y"}}``.
        """
        return {"width": self.width, "height": self.height, "brightness": self.brightness,
                "frame": self.frame.tolist(), "pending": self.pending.tolist(),
                "keys": {k: self.position(i) for k, i in self.keys.items()}}

    def dump(self) -> dict[str, Any]:
        """The state as strings and numbers for the store: ``frame``/``pending`` hex, ``keys`` JSON."""
        return {"frame": self.frame.tobytes().hex(), "pending": self.pending.tobytes().hex(),
                "keys": json.dumps(self.keys, sort_keys=True), "brightness": self.brightness}

    def load(self, saved: dict[str, Any]) -> None:
        """Restore what `dump` gave (values of another display size are ignored).

        Raises
        ------
        ValueError
            If ``saved`` is not what `dump` writes.
        """
        frame, pending = (bytes.fromhex(saved[k]) for k in ("frame", "pending"))
        keys = json.loads(saved["keys"])
        if len(frame) != self.size * 3 or len(pending) != self.size * 3:
            return
        self.frame[...] = np.frombuffer(frame, np.uint8).reshape(self.frame.shape)
        self.pending[...] = np.frombuffer(pending, np.uint8).reshape(self.frame.shape)
        self.keys = {k: int(i) for k, i in keys.items() if 0 <= int(i) < self.size}
        self.brightness = float(saved["brightness"])

    def parse_frame(self, frame: Any) -> np.ndarray:
        """A frame from the wire as a ``uint8`` array of shape ``(height, width, 3)``.

        Parameters
        ----------
        frame : bytes or nested sequence of int
            ``height * width * 3`` raw bytes (row-major RGB), or integers
            0 to 255 of shape ``(height, width, 3)`` or ``(height * width, 3)``.

        Raises
        ------
        InvalidArgument
            Wrong length, shape or type of values, or values out of 0 to 255.
        """
        want = (self.height, self.width, 3)
        if isinstance(frame, (bytes, bytearray)):
            if len(frame) != self.size * 3:
                raise InvalidArgument(f"frame: {len(frame)} bytes, expected {self.size * 3} "
                                      f"(height {self.height} x width {self.width} x 3)")
            return np.frombuffer(bytes(frame), np.uint8).reshape(want)
        try:
            values = np.asarray(frame)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"frame: not an array of pixels ({exc!s:.80})") from None
        if values.shape not in (want, (self.size, 3)):
            raise InvalidArgument(f"frame: shape {values.shape}, expected {want} or ({self.size}, 3)")
        if values.dtype.kind not in "iu":
            raise InvalidArgument(f"frame: values must be integers 0 to 255, got {values.dtype} values")
        if values.size and (values.min() < 0 or values.max() > 255):
            raise InvalidArgument(f"frame: values must be 0 to 255, got {values.min()} to {values.max()}")
        return values.astype(np.uint8).reshape(want)

    # -- inside ----------------------------------------------------------------
    def _index(self, name: str, value: Any, limit: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
            raise InvalidArgument(f"{name}: must be an integer from 0 to {limit - 1}, got {value!r:.40}")
        return int(value)

    def _allocate(self, key: Any) -> int:
        """The position of ``key``, allocating one to a new key."""
        check_key(key)
        if key in self.keys:
            return self.keys[key]
        if self.allocation == "fixed":
            if key not in self.key_map:
                raise InvalidArgument(f"key {key!r:.80}: not in the fixed key map of this display "
                                      f"(keys: {', '.join(sorted(self.key_map)[:10])})")
            where = self.key_map[key]
            owner = next((k for k, i in self.keys.items() if i == where), None)
            if owner is not None:
                raise InvalidArgument(f"key {key!r:.80}: its position {where} is held by {owner!r}")
        else:
            taken = np.zeros(self.size, bool)
            taken[list(self.keys.values())] = True
            free = np.flatnonzero(~taken)
            if not len(free):
                raise InvalidArgument(f"key {key!r:.80}: the display is full ({self.size} of {self.size} "
                                      "positions held by keys); release a key first")
            where = int(free[0] if self.allocation == "linear" else self._rng.choice(free))
        self.keys[key] = where
        return where


def check_key(key: Any) -> None:
    """Raise `InvalidArgument` unless ``key`` is a non-empty str of at most `KEY_MAX` characters."""
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX:
        raise InvalidArgument(f"key: must be a non-empty string of at most {KEY_MAX} characters, got {key!r:.40}")


def parse_color(color: Any) -> np.ndarray:
    """``[r, g, b]`` from the wire as a ``uint8`` array of shape (3,).

    Raises
    ------
    InvalidArgument
        Not three integers, or one outside 0 to 255.
    """
    if (not isinstance(color, (list, tuple)) or len(color) != 3
            or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in color)):
        raise InvalidArgument(f"color: must be [r, g, b], three integers 0 to 255, got {color!r:.60}")
    if any(not 0 <= c <= 255 for c in color):
        raise InvalidArgument(f"color: each of r, g, b must be 0 to 255, got {list(color)!r}")
    return np.array(color, np.uint8)
