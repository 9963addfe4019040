#!/bin/sh
set -e
# `docker run remcached -m 256`: flags alone mean "remcached with these flags", as in the
# official memcached image.
if [ "${1#-}" != "$1" ]; then
  set -- remcached "$@"
fi
if [ "$1" = remcached ]; then
  shift
  exec node /opt/remcached/dist/server/main.js "$@"
fi
exec "$@"
