"""The asyncio consumer client (``autobahn.asyncio``): the read API of `sisock.Client` as coroutines.

::

    import sisock.aio

    async with sisock.aio.connect("ws://127.0.0.1:8080/ws") as client:
        nodes = await client.get_data_node()
        result = await client.get_data("weather", ["temperature"], 1500076800, 1500163200)
        async for block in client.subscribe("sensors"):
            ...

or ``client = await sisock.aio.connect()`` and ``await client.close()``. The
session reconnects by itself with backoff; a call made while the router is
away waits for the next join up to ``timeout``, and subscriptions are made
again after every reconnect. It runs beside the blocking `sisock.Client` in
one process, e.g. a Jupyter kernel (`sisock.aio.frameworks`).
"""

from sisock.aio.client import AsyncClient, Connecting, Subscription, connect

__all__ = ["connect", "AsyncClient", "Connecting", "Subscription"]
