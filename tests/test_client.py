"""The blocking client as a user runs it: a plain script in its own process.

The script gets the router from ``SISOCK_URL`` (as a user's would), prints
one JSON object, and the test checks it against the raw archive.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
DATA = os.path.join(ROOT, "nodes", "weather", "data")
JUL15, JUL16 = 1500076800, 1500163200


def run_script(env, source, timeout=60):
    """Run ``source`` with this Python and the environment ``env``; its stdout parsed as JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def temperature_rows():
    rows = {}
    with open(os.path.join(DATA, "apex_temperature.dat")) as fp:
        for line in fp:
            if line.strip() and not line.startswith("#"):
                t, v = line.split()
                rows[float(t)] = float(v)
    return rows


READ_SCRIPT = f"""
    import json
    import numpy as np
    import sisock

    with sisock.Client() as client:
        nodes = client.get_data_node()
        w_field, w_timeline = client.get_fields("weather", {JUL15}, {JUL16})
        w = client.get_data("weather", ["temperature"], {JUL15}, {JUL16})
        s_field, s_timeline = client.get_fields("sensors", -60, 0)
        s = client.get_data("sensors", ["cpu_percent", "mem_used"], -10, 0)
        out = {{
            "nodes": sorted(n["name"] for n in nodes),
            "weather_fields": {{f: m["units"] for f, m in w_field.items()}},
            "weather_timelines": {{tl: m["interval"] for tl, m in w_timeline.items()}},
            "temperature_type": type(w["data"]["temperature"]).__name__,
            "temperature_dtype": str(w["data"]["temperature"].dtype),
            "temperature": w["data"]["temperature"].tolist(),
            "hourly_t": w["timeline"]["hourly"]["t"].tolist(),
            "sensors_fields": {{f: m["units"] for f, m in s_field.items()}},
            "sensors_timelines": sorted(s_timeline),
            "cpu_n": len(s["data"]["cpu_percent"]),
            "mem_n": len(s["data"]["mem_used"]),
            "host_t_n": len(s["timeline"]["host"]["t"]),
            "cpu_ok": bool(np.all((s["data"]["cpu_percent"] >= 0) & (s["data"]["cpu_percent"] <= 100))),
        }}
    print(json.dumps(out))
"""


def test_a_script_with_the_blocking_client_reads_weather_and_sensors(stack):
    out = run_script(stack.env, READ_SCRIPT)
    assert {"weather", "sensors"} <= set(out["nodes"])
    assert out["weather_fields"] == {"temperature": "C", "humidity": "%", "pressure": "mBar",
                                     "windspeed": "km/h", "radiometer": "mm"}
    assert out["weather_timelines"] == {"hourly": 3600, "minutely": 60}
    assert (out["temperature_type"], out["temperature_dtype"]) == ("ndarray", "float64")
    rows = temperature_rows()
    expected_t = sorted(t for t in rows if JUL15 <= t < JUL16)
    assert len(out["temperature"]) == 24
    assert out["hourly_t"] == expected_t
    assert out["temperature"] == pytest.approx([rows[t] for t in expected_t])
    assert min(out["temperature"]) == pytest.approx(-12.64)
    assert max(out["temperature"]) == pytest.approx(-5.86)
    assert {"cpu_percent", "mem_used"} <= set(out["sensors_fields"])
    assert out["sensors_fields"]["mem_used"] == "bytes"
    assert out["sensors_timelines"] == ["host"]
    assert out["cpu_n"] == out["mem_n"] == out["host_t_n"] > 0
    assert out["cpu_ok"]


ERRORS_SCRIPT = f"""
    import json
    import sisock

    def error_of(call, *args):
        try:
            call(*args)
        except Exception as exc:
            return [type(exc).__module__ + "." + type(exc).__name__, getattr(exc, "message", str(exc))]
        return None

    with sisock.Client() as client:
        out = {{
            "fields": error_of(client.get_fields, "no_such_node", {JUL15}, {JUL16}),
            "data": error_of(client.get_data, "no_such_node", ["x"], {JUL15}, {JUL16}),
            "bad_field": error_of(client.get_data, "weather", "temperature", {JUL15}, {JUL16}),
            "bad_stride": error_of(client.get_data, "weather", ["temperature"], {JUL15}, {JUL16}, -1),
            "still_serving": len(client.get_data("weather", ["temperature"], {JUL15}, {JUL16})["data"]["temperature"]),
        }}
    print(json.dumps(out))
"""


def test_the_blocking_client_raises_no_such_node_and_invalid_argument_naming_the_argument(stack):
    out = run_script(stack.env, ERRORS_SCRIPT)
    assert out["fields"][0] == "sisock.wire.errors.NoSuchNode"
    assert "no_such_node" in out["fields"][1]
    assert out["data"][0] == "sisock.wire.errors.NoSuchNode"
    assert out["bad_field"][0] == "sisock.wire.errors.InvalidArgument"
    assert out["bad_field"][1].startswith("field")
    assert out["bad_stride"][0] == "sisock.wire.errors.InvalidArgument"
    assert out["bad_stride"][1].startswith("min_stride")
    assert out["still_serving"] == 24


def test_sisock_client_is_importable_from_the_package(stack):
    out = run_script(stack.env, """
        import json, sisock, sisock.wire.errors
        print(json.dumps([sisock.Client.__module__, sisock.wire.errors.NoSuchNode.__name__]))
    """)
    assert out == ["sisock.client", "NoSuchNode"]


#: Seconds the test listens on the port a timed-out client tried: longer than the longest pause
#: between two connection attempts (`sisock.connection.RETRY_POLICY`, 3 s).
LISTEN = 6

TIMEOUT_SCRIPT = f"""
    import gc, json, socket
    import crochet
    from twisted.application.internet import ClientService
    import sisock

    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        sisock.Client(f"ws://127.0.0.1:{{port}}/ws", timeout=1.0)
        raised = None
    except crochet.TimeoutError as exc:
        raised = str(exc)
    with socket.create_server(("127.0.0.1", port)) as listener:
        listener.settimeout({LISTEN})
        try:
            listener.accept()[0].close()
            connected = True
        except TimeoutError:
            connected = False
    live = [s for s in gc.get_objects() if isinstance(s, ClientService) and s.running]
    print(json.dumps({{"port": port, "raised": raised, "connected": connected, "live": len(live)}}))
"""


def test_a_client_that_times_out_connecting_stops_trying():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SISOCK_")}
    out = run_script(env, TIMEOUT_SCRIPT)
    assert out["raised"] is not None, "no timeout error"
    assert f"127.0.0.1:{out['port']}" in out["raised"] and "1 s" in out["raised"]
    assert not out["connected"], f"someone connected to port {out['port']} after the client timed out"
    assert out["live"] == 0
