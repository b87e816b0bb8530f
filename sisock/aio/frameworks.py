"""Autobahn's Twisted and asyncio flavours in one process (`sisock.Client` beside `sisock.aio`).

Autobahn's WAMP code makes its futures through txaio, whose functions are
process-wide and bound to one framework: importing ``autobahn.asyncio``
after ``autobahn.twisted`` (``import sisock`` imports the Twisted client)
raises ``RuntimeError: Explicitly using 'twisted' already``. In a notebook
both are wanted at once: the blocking `sisock.Client` runs Twisted in a
thread of its own (crochet) while the kernel's asyncio loop runs
`sisock.aio` sessions in the main thread.

:func:`use_both` makes each of txaio's future functions (``create_future``,
``add_callbacks``, ``call_later``, ...) pick its framework by thread: asyncio's
in a thread running an asyncio loop that is not the Twisted reactor's
thread, Twisted's everywhere else (as before, so Twisted code, nodes and
the hub see no difference). Logging stays Twisted's.
"""

import asyncio
import threading

import txaio
from twisted.python import threadable
from txaio import aio, tx

#: txaio's functions whose behaviour depends on the framework: the methods of its per-framework API object.
FUTURE_FUNCTIONS = ("create_future", "create_future_success", "create_future_error", "as_future", "is_future",
                    "call_later", "make_batched_timer", "is_called", "resolve", "reject", "cancel",
                    "create_failure", "add_callbacks", "gather", "sleep", "failure_message", "failure_traceback",
                    "failure_format_traceback")

_lock = threading.Lock()
_installed = False


def in_asyncio():
    """Whether the calling thread runs an asyncio loop and is not the Twisted reactor's thread."""
    return asyncio._get_running_loop() is not None and not threadable.isInIOThread()


def _dispatcher(name, twisted_api, asyncio_api):
    on_twisted, on_asyncio = getattr(twisted_api, name), getattr(asyncio_api, name)

    def dispatch(*args, **kwargs):
        return (on_asyncio if in_asyncio() else on_twisted)(*args, **kwargs)

    dispatch.__name__ = name
    return dispatch


def _keep(*args, **kwargs):
    """What ``txaio.use_twisted`` / ``use_asyncio`` become: the choice is made per thread."""


def use_both():
    """Install the per-thread choice of framework in txaio, then import autobahn's asyncio flavour.

    Idempotent and thread-safe. Call it before importing ``autobahn.asyncio``
    (`sisock.aio` does, first).
    """
    global _installed
    with _lock:
        if _installed:
            return
        txaio.use_twisted()  # Twisted stays the default (what sisock.client chose already)
        twisted_api, asyncio_api = tx._default_api, aio.with_config(loop=None)  # asyncio: each thread's own loop
        txaio.use_twisted = txaio.use_asyncio = _keep  # the asyncio and any later Twisted imports must not rebind
        for name in FUTURE_FUNCTIONS:
            setattr(txaio, name, _dispatcher(name, twisted_api, asyncio_api))
        _installed = True
