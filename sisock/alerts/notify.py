"""Notifications of alerts through Apprise (``pip install sisock[notify]``).

The rules file's ``notify`` is a list of Apprise URLs (``json://host:port/path``,
``mailto://...``, ``slack://...``, ...). A firing alert is sent once when
it fires, again every ``repeat`` seconds while it fires unacknowledged,
and once more when it resolves; a silenced alert is sent to nobody. Apprise
blocks while it posts: every notification runs in a thread.
"""

from __future__ import annotations

import os

from twisted.internet import threads
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from sisock.alerts.store import read_settings

_log = Logger()

#: Apprise's notification type of each reason to send.
TYPES = {"firing": "failure", "reminder": "warning", "resolved": "success"}


def message(alert: dict, reason: str) -> tuple[str, str]:
    """``(title, body)`` of a notification of ``alert`` (an alert dict) sent for ``reason``
    (``firing``, ``reminder`` or ``resolved``)."""
    word = {"firing": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED"}[reason]
    title = f"[{word}] {alert['severity']}: {alert['name']}"
    body = f"{alert['summary']}\nalert {alert['id']}, rule {alert['rule']}, node {alert['node']}"
    return title, body


class Notifier:
    """Sends alerts to the Apprise URLs of the rules file, on one thread of its own.

    The file's ``notify`` and ``repeat`` are read again, before a
    notification, whenever the file changed (its modification time), so
    they can be changed without a restart.

    Attributes
    ----------
    repeat : float or None
        The file's ``repeat`` (seconds) as last read; None before.

    Parameters
    ----------
    path : str
        The rules file (`sisock.alerts.store`).
    """

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._apprise = None
        self.repeat = None
        self._pool = ThreadPool(1, 1, "sisock-notify")

    def _load(self):
        """(In the thread) the Apprise object of the file's URLs, made again if the file changed."""
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return self._apprise
        self._stamp, self._apprise = stamp, None
        try:
            settings = read_settings(self.path)
        except ValueError as exc:
            _log.error("sisock: alert notifications: {why}", why=str(exc))
            return None
        urls, self.repeat = settings["notify"], float(settings["repeat"])
        if not urls:
            return None
        try:
            import apprise
        except ImportError:
            _log.error("sisock: alert notifications need Apprise (pip install 'sisock[notify]'); "
                       "none will be sent to {n} URL(s)", n=len(urls))
            return None
        self._apprise = apprise.Apprise()
        for url in urls:
            if not self._apprise.add(url):
                _log.error("sisock: not an Apprise URL, no alert will be sent to it: {url}", url=url)
        return self._apprise

    def _send(self, alert, reason):
        sender = self._load()
        if sender is None or not len(sender):
            return False
        title, body = message(alert, reason)
        ok = sender.notify(title=title, body=body, notify_type=TYPES[reason])
        if not ok:
            _log.warn("sisock: a notification of alert {id} failed", id=alert["id"])
        return ok

    def send(self, alert: dict, reason: str):
        """Send one notification of ``alert`` (an alert dict) for ``reason`` (``firing``, ``reminder``,
        ``resolved``); Deferred of whether every URL took it (False when there is none)."""
        from twisted.internet import reactor

        if not self._pool.started:
            self._pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        d = threads.deferToThreadPool(reactor, self._pool, self._send, alert, reason)
        return d.addErrback(lambda f: _log.error("sisock: notifying alert {id}: {why}", id=alert["id"],
                                                 why=f.getErrorMessage()))
