#!/bin/bash
# Runs memcached 1.6.18's own Perl suite (its t/*.t) against remcached, or against Debian's
# memcached for the baseline, and prints one line per file and a summary.
#
#   scripts/perl-suite.sh [--server=remcached|memcached|both] [--tls] [--out=DIR] MEMCACHED_SRC [t/x.t ...]
#
# MEMCACHED_SRC is memcached's source tree at tag 1.6.18; nothing is fetched here. Get it with
#   git clone --depth 1 --branch 1.6.18 https://github.com/memcached/memcached /tmp/memcached-1.6.18
# (or unpack the 1.6.18 release tarball). Its files are only read: the suite runs from a
# temporary build directory holding the memcached-debug stand-in (perl-suite-memcached-debug.sh),
# memcached's timedrun (compiled from MEMCACHED_SRC/timedrun.c) and a link to MEMCACHED_SRC/t.
# Needs perl with core modules and IO::Socket::SSL (Debian: libio-socket-ssl-perl), a C compiler,
# and remcached built (npm run build:native && npm run build). Files run one at a time (they
# take ports at random and time themselves); each file has PERL_SUITE_TIMEOUT seconds (180; the
# slowest file takes ~25 s against memcached, and one that waits for a reply never sent would
# otherwise sit out memcached's own 600 s). --tls runs the suite the way memcached's
# `make test_tls` does (SSL_TEST=1: every connection over TLS, the ssl_*.t files run).
# Exit status: 0 when every file that ran passed on every server, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
servers=(remcached)
out=""
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --server=both) servers=(memcached remcached) ;;
    --server=remcached|--server=memcached) servers=("${1#--server=}") ;;
    --out=*) out=${1#--out=} ;;
    --tls) export SSL_TEST=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
src=${1:-}
if [[ -z $src || ! -f $src/t/lib/MemcachedTest.pm || ! -f $src/timedrun.c ]]; then
  echo "usage: $0 [--server=remcached|memcached|both] [--tls] [--out=DIR] MEMCACHED_SRC [t/x.t ...]" >&2
  echo "MEMCACHED_SRC: memcached 1.6.18's source tree (see the comment at the top of this script)" >&2
  exit 2
fi
src=$(cd "$src" && pwd)
shift
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  files=()
  for f in "$src"/t/*.t; do files+=("t/$(basename "$f")"); done
fi
[[ -x $root/dist/server/main.js || " ${servers[*]} " != *" remcached "* ]] || {
  echo "build remcached first: npm run build:native && npm run build" >&2; exit 2; }

work=$(mktemp -d /tmp/perl-suite.XXXXXX)
out=${out:-$work/logs}
mkdir -p "$out"
ln -s "$src/t" "$work/t"
cp "$here/perl-suite-memcached-debug.sh" "$work/memcached-debug"
cc -O1 -o "$work/timedrun" "$src/timedrun.c" || { echo "cannot compile timedrun.c" >&2; exit 2; }
pids=$work/pids

# End the servers a file left behind (the suite stops them with SIGINT as its handles go; a file
# that dies early may not), by the ids the stand-in wrote, then wait for their ports to free.
cleanup_servers() {
  [[ -f $pids ]] || return 0
  local p
  while read -r p; do
    kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
  done <"$pids"
  sleep 0.2
  while read -r p; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done <"$pids"
  : >"$pids"
}
trap 'cleanup_servers; exit 130' INT TERM

status=0
for server in "${servers[@]}"; do
  pass=() fail=() skip=()
  for f in "${files[@]}"; do
    name=$(basename "$f" .t)
    log=$out/$server.$name.log
    start=$SECONDS
    (cd "$work" && PERL_SUITE_SERVER=$server REMCACHED_ROOT=$root PERL_SUITE_PIDS=$pids \
      timeout -k 5 "${PERL_SUITE_TIMEOUT:-180}" perl "t/$name.t") >"$log" 2>&1
    rc=$?
    cleanup_servers
    took=$((SECONDS - start))
    if [[ $rc -eq 0 ]] && grep -qi "^1\.\.0 # skip" "$log"; then
      skip+=("$name"); printf '%-10s %-28s SKIP %4ss  %s\n' "$server" "$name" "$took" "$(grep -m1 '^1\.\.0' "$log")"
    elif [[ $rc -eq 0 ]]; then
      pass+=("$name"); printf '%-10s %-28s ok   %4ss\n' "$server" "$name" "$took"
    else
      fail+=("$name"); status=1
      printf '%-10s %-28s FAIL %4ss  rc=%s %s\n' "$server" "$name" "$took" "$rc" \
        "$(grep -m3 -E '^not ok|^# +Failed|Looks like|croak|died|Died' "$log" | tr '\n' ' ' | cut -c1-160)"
    fi
  done
  echo "$server: ${#pass[@]} passed, ${#fail[@]} failed, ${#skip[@]} skipped of ${#files[@]} files (logs: $out)"
  echo "$server failed: ${fail[*]:-none}"
  echo "$server skipped: ${skip[*]:-none}"
done
exit $status
