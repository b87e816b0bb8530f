"""``python -m sisock.hub``: run the hub (see `sisock.hub.hub.main`)."""

from sisock.hub.hub import main

main()
