"""Where the pixel node's frames go: a simulated display (the default) or a WS281x/NeoPixel strip.

An output has ``show(frame, brightness)``, called in the reactor thread
with every frame shown (a ``uint8`` array of shape ``(height, width, 3)``
and a brightness from 0 to 1), and ``close()``. The simulated display
keeps nothing but what the node already has: browsers draw the frame
events, and `png` writes a snapshot. The NeoPixel output drives a real
strip through Adafruit's ``neopixel`` library, used only when it is
importable and ``--output neopixel`` asks for it.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image


def png(frame: np.ndarray, scale: int = 1) -> bytes:
    """A PNG image of ``frame``, each pixel a ``scale x scale`` square.

    Parameters
    ----------
    frame : numpy.ndarray, uint8, shape (height, width, 3)
        RGB values as set (brightness is not applied).
    scale : int
        Image pixels per display pixel, 1 to 64.

    Returns
    -------
    bytes
        An 8-bit RGB PNG of ``height * scale`` rows and ``width * scale`` columns.
    """
    image = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), "RGB").save(out, format="PNG")
    return out.getvalue()


class SimulatedOutput:
    """The default output: nothing to drive (browsers draw the frame events)."""

    def show(self, frame: np.ndarray, brightness: float) -> None:
        """Nothing to do: the node publishes and records every frame itself."""

    def close(self) -> None:
        """Nothing to release."""


#: What ``pip install`` gives a WS281x strip: Adafruit's ``neopixel``, which brings Blinka's ``board``.
NEOPIXEL_PACKAGE = "adafruit-circuitpython-neopixel"


class NeoPixelOutput:
    """A WS281x strip or matrix wired to ``pin``, pixels in row-major order.

    Parameters
    ----------
    pin : str
        A ``board`` pin name, e.g. ``"D18"``.
    count : int
        Number of pixels, ``width * height``.

    Raises
    ------
    RuntimeError
        If the ``neopixel``/``board`` libraries cannot be imported.
    """

    def __init__(self, pin: str, count: int):
        try:
            import board
            import neopixel
        except ImportError as exc:
            raise RuntimeError(f"--output neopixel needs the module {exc.name!r}, which is not installed: "
                               f"pip install {NEOPIXEL_PACKAGE}") from None
        self.pixels = neopixel.NeoPixel(getattr(board, pin), count, auto_write=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neopixel")

    def show(self, frame: np.ndarray, brightness: float) -> None:
        """Write ``frame`` at ``brightness`` to the strip, in order, in a thread of its own (it blocks)."""
        self._writer.submit(self._write, frame.copy(), brightness)

    def _write(self, frame: np.ndarray, brightness: float) -> None:
        self.pixels.brightness = brightness
        self.pixels[:] = [tuple(p) for p in frame.reshape(-1, 3).tolist()]
        self.pixels.show()

    def close(self) -> None:
        """Turn the strip off (after the frames already handed over)."""
        self._writer.shutdown(wait=True)
        self.pixels.fill((0, 0, 0))
        self.pixels.show()
