"""Both Python clients in a real Jupyter kernel (ipykernel, through jupyter_client), against the session stack.

ipykernel runs an asyncio loop in the kernel's main thread: the blocking
`sisock.Client` runs Twisted beside it in a thread of its own (crochet),
and `sisock.aio` runs on that loop, awaited at the top level of a cell.
What the kernel reads is compared with what the test process reads through
its own Twisted session. Cells run in a worker thread, so that the
reactor of the test process keeps running meanwhile.
"""

import hashlib
import json
import textwrap
import time

import numpy as np
import pytest
import pytest_twisted
from jupyter_client.manager import start_new_kernel
from twisted.internet import threads

from tests.wirenode import T0

JUL15, JUL16 = 1500076800, 1500163200
START, END = T0, T0 + 200  # 20,000 samples of the chunky node: several chunks


class Kernel:
    """One kernel of the module: `cell` runs code and gives its stdout, failing on any error."""

    def __init__(self, env):
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env, startup_timeout=60)

    def cell(self, code, timeout=60):
        """Run ``code`` and return what it printed; raise AssertionError with the traceback on an error."""
        out, errors = [], []

        def hook(msg):
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(textwrap.dedent(code), timeout=timeout, output_hook=hook)
        assert reply["content"]["status"] == "ok" and not errors, "".join(errors) or reply["content"]
        return "".join(out)

    def interrupted_cell(self, code, marker, timeout=30):
        """Run ``code``, interrupt the kernel (as Ctrl-C / the Interrupt button) once it printed ``marker``,
        and return the name of the error the cell ended with."""
        msg_id = self.client.execute(textwrap.dedent(code))
        deadline, error = time.monotonic() + timeout, None
        while True:
            msg = self.client.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and marker in content["text"]:
                self.manager.interrupt_kernel()
            elif kind == "error":
                error = content["ename"]
            elif kind == "status" and content["execution_state"] == "idle":
                return error

    def stop(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(stack, chunky):
    k = pytest_twisted.blockon(threads.deferToThread(Kernel, stack.env))
    yield k
    k.stop()


def in_kernel(kernel, code):
    """Deferred of the JSON a cell prints last."""
    return threads.deferToThread(kernel.cell, code).addCallback(lambda out: json.loads(out.strip().splitlines()[-1]))


def digest(result):
    """What the kernel prints of a chunky get_data result: the bytes of every array, hashed."""
    return {f: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for f, a in result["data"].items()} | {
        "t": hashlib.sha256(result["timeline"]["fast"]["t"].tobytes()).hexdigest()}


DIGEST = """
        import hashlib, json
        import numpy as np

        def digest(result):
            return {f: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
                    for f, a in result["data"].items()} | {
                "t": hashlib.sha256(result["timeline"]["fast"]["t"].tobytes()).hexdigest()}
"""  # indented as the cells below, which it starts


@pytest_twisted.inlineCallbacks
def test_the_blocking_client_reads_a_chunked_answer_in_a_kernel(stack, kernel, consumer):
    out = yield in_kernel(kernel, DIGEST + f"""
        import sisock
        client = sisock.Client()
        progress = []
        result = client.get_data("chunky", ["x", "i"], {START}, {END}, progress=lambda got, total: progress.append(got))
        print(json.dumps({{"digest": digest(result), "chunks": len(progress), "n": len(result["data"]["x"])}}))
    """)
    expected = yield consumer.get_data("chunky", ["x", "i"], START, END)
    assert out["n"] == 20000 and out["chunks"] >= 4
    assert out["digest"] == digest(expected)


@pytest_twisted.inlineCallbacks
def test_the_asyncio_client_is_awaited_at_the_top_level_of_a_cell_beside_the_blocking_one(stack, kernel, consumer):
    out = yield in_kernel(kernel, DIGEST + f"""
        import sisock
        aclient = await sisock.aio.connect()
        result = await aclient.get_data("chunky", ["x", "i"], {START}, {END})
        nodes = sorted(n["name"] for n in await aclient.get_data_node())
        blocks = []
        async for block in aclient.subscribe("sensors"):
            blocks.append(block)
            if len(blocks) == 2:
                break
        print(json.dumps({{"digest": digest(result), "nodes": nodes, "live": [b["timeline"] for b in blocks]}}))
    """)
    expected = yield consumer.get_data("chunky", ["x", "i"], START, END)
    assert out["digest"] == digest(expected)
    assert {"weather", "sensors", "chunky"} <= set(out["nodes"])
    assert out["live"] == ["host", "host"]
    # the session stays on the kernel's loop between cells
    out = yield in_kernel(kernel, f"""
        weather = await aclient.get_data("weather", ["temperature"], {JUL15}, {JUL16})
        print(json.dumps(weather["data"]["temperature"].tolist()))
    """)
    expected = yield consumer.get_data("weather", ["temperature"], JUL15, JUL16)
    assert out == expected["data"]["temperature"].tolist()


@pytest_twisted.inlineCallbacks
def test_an_interrupted_wait_leaves_both_clients_working(stack, kernel):
    yield in_kernel(kernel, """
        import json, sisock
        client = sisock.Client()
        live = client.subscribe("sensors")
        block = next(live)
        live.close()
        latest = client.get_latest("sensors")
        print(json.dumps([block["timeline"], sorted(latest)]))
    """)
    error = yield threads.deferToThread(kernel.interrupted_cell, """
        quiet = client.subscribe("weather")  # an archive: no live blocks ever
        print("waiting", flush=True)
        next(quiet)
    """, "waiting")
    assert error == "KeyboardInterrupt"
    out = yield in_kernel(kernel, f"""
        quiet.close()
        blocking = client.get_data("weather", ["temperature"], {JUL15}, {JUL16})
        aclient = await sisock.aio.connect()
        awaited = await aclient.get_data("weather", ["temperature"], {JUL15}, {JUL16})
        print(json.dumps([len(blocking["data"]["temperature"]), len(awaited["data"]["temperature"])]))
    """)
    assert out == [24, 24]
