#!/bin/bash
# Stands in for memcached's ./memcached-debug when memcached 1.6.18's own Perl suite (t/*.t) runs
# against remcached or against Debian's memcached (scripts/perl-suite.sh puts it in place).
# PERL_SUITE_SERVER: remcached (default) or memcached; REMCACHED_ROOT: the checkout with dist/.
# Flags are mapped as little as possible: only what a debug build of memcached has differs.
server=${PERL_SUITE_SERVER:-remcached}
args=()
for a in "$@"; do
  if [[ $a == *relaxed_privileges* ]]; then
    # -o relaxed_privileges exists only in a debug build (the suite adds it to every start):
    # drop it from its comma list, and drop the -o left with nothing after it
    a=$(sed -e 's/relaxed_privileges//; s/,,/,/; s/^,//; s/,$//' <<<"$a")
    if [[ -z $a ]]; then
      [[ ${#args[@]} -gt 0 && ${args[-1]} == -o ]] && unset 'args[-1]'
      continue
    fi
  fi
  args+=("$a")
done
# the runner ends what is left after each file by these ids (exec keeps this pid)
[[ -n $PERL_SUITE_PIDS ]] && echo $$ >>"$PERL_SUITE_PIDS"
case $server in
  memcached) exec "${PERL_SUITE_MEMCACHED:-/usr/bin/memcached}" "${args[@]}" ;;
  # debugtime is a debug-build command of memcached; remcached has it behind this switch
  remcached) exec node "${REMCACHED_ROOT:?the remcached checkout}/dist/server/main.js" --enable-debugtime "${args[@]}" ;;
  *) echo "PERL_SUITE_SERVER must be remcached or memcached" >&2; exit 2 ;;
esac
