"""Alerts on any field: rules evaluated on live data, alerts, silences, history and notifications.

Modules: `rules` (the grammar), `state` (an alert, one rule's state
machine), `engine` (every rule, silences), `store` (rules file, history
file), `notify` (Apprise), `external` (alarms of alarm nodes), `api`
(the procedures), `service` (the WAMP side, on the hub's session).
``docs/alerts.md`` is the user's guide.
"""

import os

from sisock import config
from sisock.alerts.service import AlertService
from sisock.alerts.store import HISTORY_FILE, RULES_FILE, AlertStore


def settings_file():
    """Absolute path of the rules file: ``SISOCK_ALERTS_FILE``, default ``$SISOCK_HOME/alerts.json``."""
    return os.path.abspath(config.env("ALERTS_FILE", os.path.join(config.home_dir(), RULES_FILE)))


def attach(hub, data_dir):
    """Give ``hub`` (a `sisock.hub.hub.Hub`) its alert service, with the history in ``data_dir``.

    Sets ``hub.alerts``; the history file is closed at reactor shutdown.

    Raises
    ------
    ValueError
        The rules file is malformed or holds a rule that does not parse.
    """
    from twisted.internet import reactor

    store = AlertStore(os.path.join(data_dir, HISTORY_FILE))
    try:
        hub.alerts = AlertService(hub, settings_file(), store)
    except ValueError:
        store.close()
        raise
    reactor.addSystemEventTrigger("after", "shutdown", store.close)
    return hub.alerts
