#!/bin/sh
set -e
# As the official memcached image's entrypoint: flags alone (`docker run IMAGE -m 64`) mean the
# server with those flags, and the server's name runs it (`docker run IMAGE memcached -m 64`,
# compose's `command: memcached -m 64`). Here both `memcached` and `remcached` name remcached.
# Anything else runs as given (`docker run -it IMAGE sh`).
if [ "${1#-}" != "$1" ]; then
  set -- memcached "$@"
fi
if [ "$1" = memcached ] || [ "$1" = remcached ]; then
  shift
  # exec: node becomes PID 1 and receives `docker stop`'s SIGTERM itself
  exec node /opt/remcached/dist/server/main.js "$@"
fi
exec "$@"
