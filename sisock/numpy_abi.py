"""Keep bjdata's C extension out of a process when it was built for NumPy 1 and NumPy 2 runs.

Crossbar requires ``autobahn[serialization]``, which requires bjdata (the
UBJSON serializer). bjdata comes as source only, and pip builds it in an
isolated environment with ``oldest-supported-numpy``: on Python < 3.13 its
extension ``_bjdata`` is compiled against NumPy 1. Imported under NumPy 2,
it makes NumPy print "A module that was compiled using NumPy 1.x cannot be
run in NumPy 2.x" with a traceback on stderr, then bjdata falls back to its
pure-Python encoder and decoder. `skip_numpy1_bjdata` lets bjdata take that
fallback at once, without importing the extension, so nothing is printed;
an extension built for NumPy 2 is left alone. sisock never speaks UBJSON
(its transports use MessagePack, CBOR and JSON).

It runs when this module is imported: `sisock` imports it first, before
anything imports autobahn, and the Crossbar processes of a router
directory run through `sisock.router.python`, which imports `sisock`.
"""

import importlib.metadata
import importlib.util
import sys

#: The module that the C-API import of NumPy 2 headers (and only theirs) names.
NUMPY2_CORE = b"numpy._core._multiarray_umath"


def skip_numpy1_bjdata():
    """Make ``_bjdata`` unimportable in this process if it was built for NumPy 1 and NumPy 2 is installed.

    Returns
    -------
    bool
        True if it was made unimportable (``sys.modules["_bjdata"] = None``:
        ``import bjdata`` then uses bjdata's pure-Python codec).
    """
    if "_bjdata" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec("_bjdata")
        numpy_major = int(importlib.metadata.version("numpy").split(".")[0])
    except (ImportError, ValueError, importlib.metadata.PackageNotFoundError):
        return False
    if spec is None or not spec.origin or numpy_major < 2:
        return False
    try:
        with open(spec.origin, "rb") as fp:
            if NUMPY2_CORE in fp.read():
                return False
    except OSError:
        return False
    sys.modules["_bjdata"] = None
    return True


skip_numpy1_bjdata()
