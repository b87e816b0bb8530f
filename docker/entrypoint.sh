#!/bin/sh
# Entry point of the sisock image: refuse to start with a secret that is empty or
# too short to be one (the placeholders of .env.example), then run the command.
set -eu
for name in SISOCK_HUB_SECRET SISOCK_NODE_SECRET SISOCK_ADMIN_SECRET SISOCK_BRIDGE_TOKEN SISOCK_HTTP_PUBLISHER_SECRET; do
    eval "set=\${$name+x} value=\${$name-}"
    if [ -n "$set" ] && [ "${#value}" -lt 16 ]; then
        echo "sisock: refusing to start: $name is empty or shorter than 16 characters;" \
             "put a random value in .env (e.g. openssl rand -hex 32)" >&2
        exit 78
    fi
done
exec "$@"
