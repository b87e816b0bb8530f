"""An archive node written as for the original sisock (Simons Observatory), used unmodified by the tests.

It serves tank readings from text files in ./readings/, one file per
quantity: comment lines ``# key: value`` (about, clock, units, step), then
``time value`` rows. Like the original's example nodes it reaches the
library only through ``sisock.base``, overrides ``get_data`` and
``get_fields`` directly (plain lists, in the reactor thread, converting
times itself), and its ``__main__`` block waits for a router, loads a
certificate and connects with wss on the original's host and port; run by
``sisock legacy-node``, that block never runs.
"""

import glob
import os
import time

import six
from autobahn.twisted.wamp import ApplicationRunner
from OpenSSL import crypto
from twisted.internet._sslverify import OpenSSLCertificateAuthorities
from twisted.internet.ssl import CertificateOptions

import sisock


def read_table(path):
    """(header dict, [(t, value), ...]) of one readings file."""
    header, rows = {}, []
    with open(path) as fp:
        for line in fp:
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                header[key.strip()] = value.strip()
            elif line.strip():
                t, v = line.split()
                rows.append((float(t), float(v)))
    return header, rows


class tank_archive(sisock.base.DataNodeServer):
    """Tank readings from text files."""

    name = "tank_archive"
    description = "Tank readings kept in text files."

    def get_fields(self, start, end):
        start = sisock.base.sisock_to_unix_time(start)
        end = sisock.base.sisock_to_unix_time(end)
        field, timeline = {}, {}
        for path in sorted(glob.glob("./readings/*.txt")):
            quantity = os.path.basename(path).replace(".txt", "")
            header, rows = read_table(path)
            if not [t for t, v in rows if start <= t < end]:
                continue
            field[quantity] = {"description": header["about"], "timeline": header["clock"],
                               "type": "number", "units": header["units"]}
            if header["clock"] not in timeline:
                timeline[header["clock"]] = {"interval": float(header["step"]), "field": []}
            timeline[header["clock"]]["field"].append(quantity)
        return field, timeline

    def get_data(self, field, start, end, min_stride=None):
        start = sisock.base.sisock_to_unix_time(start)
        end = sisock.base.sisock_to_unix_time(end)
        ret = {"data": {}, "timeline": {}}
        for quantity in field:
            ret["data"][quantity] = []
            try:
                header, rows = read_table("./readings/%s.txt" % quantity)
            except OSError:
                continue  # an unknown field: an empty list, as the original does
            kept = [(t, v) for t, v in rows if start <= t < end]
            ret["data"][quantity] = [v for t, v in kept]
            ret["timeline"][header["clock"]] = {"t": [t for t, v in kept], "finalized_until": rows[-1][0]}
        return ret


if __name__ == "__main__":
    time.sleep(5)
    cert = crypto.load_certificate(crypto.FILETYPE_PEM, six.u(open(".crossbar/server_cert.pem").read()))
    options = CertificateOptions(trustRoot=OpenSSLCertificateAuthorities([cert]))
    runner = ApplicationRunner("wss://%s:%d/ws" % (sisock.base.SISOCK_HOST, sisock.base.SISOCK_PORT),
                               sisock.base.REALM, ssl=options)
    runner.run(tank_archive)
