# pymemcache (Debian's python3-pymemcache) driven by test/clients/pymemcache.test.ts: every call
# it has for the cache, on Client and on HashClient, printed as one JSON list of [call, result] so
# that the run against remcached can be compared with the run against memcached 1.6.18.
#   python3 pymemcache_workout.py client PORT
#   python3 pymemcache_workout.py hash PORT1 PORT2
import hashlib
import json
import sys

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

out = []


def norm(v):
    """JSON-able and comparable: bytes as text (long ones as length and digest)."""
    if isinstance(v, bytes):
        if len(v) > 256:
            return {'bytes': len(v), 'sha256': hashlib.sha256(v).hexdigest()}
        return v.decode('latin1')
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {norm(k): norm(x) for k, x in sorted(v.items())}
    return v


def rec(name, fn):
    try:
        r = norm(fn())
    except Exception as e:  # the exception is the result: its class and message must match too
        r = {'raised': type(e).__name__, 'message': str(e)}
    out.append([name, r])
    return r


def workout(c, hashed):
    rec('flush_all', lambda: c.flush_all(noreply=False))
    rec('set', lambda: c.set('k', 'v1', noreply=False))
    rec('get', lambda: c.get('k'))
    rec('get miss', lambda: c.get('missing'))
    rec('get default', lambda: c.get('missing', default=b'dflt'))
    rec('set flags', lambda: c.set('f', b'x', flags=42, noreply=False))
    rec('add existing', lambda: c.add('k', 'x', noreply=False))
    rec('add new', lambda: c.add('k2', 'added', noreply=False))
    rec('replace missing', lambda: c.replace('nx', 'x', noreply=False))
    rec('replace', lambda: c.replace('k', 'v2', noreply=False))
    rec('append', lambda: c.append('k', '>', noreply=False))
    rec('prepend', lambda: c.prepend('k', '<', noreply=False))
    rec('append missing', lambda: c.append('nx', 'x', noreply=False))
    rec('get after append/prepend', lambda: c.get('k'))
    rec('set_many', lambda: c.set_many({'m1': 'a', 'm2': 'b', 'm3': 'c'}, noreply=False))
    rec('get_many', lambda: c.get_many(['m1', 'm2', 'm3', 'missing', 'k']))
    # HashClient's placement hashes 'host:port', which differs between runs, and each server has
    # its own CAS counter: there only whether a CAS token came back is compared
    token = (lambda v: v if not hashed else (v is not None))
    rec('gets', lambda: (lambda r: [r[0], token(r[1])])(c.gets('k')))
    rec('gets miss', lambda: c.gets('missing'))
    if not hashed:  # HashClient has no gets_many
        rec('gets_many', lambda: c.gets_many(['k', 'm1', 'missing']))
    cas = c.gets('k')[1]
    rec('cas', lambda: c.cas('k', 'swapped', cas, noreply=False))
    rec('cas stale', lambda: c.cas('k', 'again', cas, noreply=False))
    rec('cas missing', lambda: c.cas('nx', 'x', b'1', noreply=False))
    rec('get after cas', lambda: c.get('k'))
    rec('set number', lambda: c.set('n', '10', noreply=False))
    rec('incr', lambda: c.incr('n', 5, noreply=False))
    rec('decr', lambda: c.decr('n', 3, noreply=False))
    rec('decr floors at 0', lambda: c.decr('n', 100, noreply=False))
    rec('incr missing', lambda: c.incr('nx', 1, noreply=False))
    rec('incr wraps', lambda: (c.set('w', str(2**64 - 1), noreply=False), c.incr('w', 2, noreply=False)))
    rec('incr non-numeric', lambda: c.incr('k', 1, noreply=False))
    rec('get after incr', lambda: c.get('n'))
    rec('touch', lambda: c.touch('k', 100, noreply=False))
    rec('touch missing', lambda: c.touch('nx', 100, noreply=False))
    rec('delete', lambda: c.delete('k2', noreply=False))
    rec('delete missing', lambda: c.delete('k2', noreply=False))
    rec('delete_many', lambda: c.delete_many(['m1', 'm2'], noreply=False))
    rec('get_many after delete_many', lambda: c.get_many(['m1', 'm2', 'm3']))
    # noreply (pymemcache's default for storage commands): nothing to read, the effect is checked
    rec('noreply set', lambda: c.set('q', 'quiet', noreply=True))
    rec('noreply add existing', lambda: c.add('q', 'loud', noreply=True))
    rec('noreply incr', lambda: c.incr('n', 1, noreply=True))
    rec('noreply delete', lambda: c.delete('f', noreply=True))
    rec('after noreply', lambda: c.get_many(['q', 'n', 'f']))
    # expiry: negative means expired at once
    rec('set expired', lambda: c.set('e', 'x', expire=-1, noreply=False))
    rec('get expired', lambda: c.get('e'))
    # values at the default 1 MiB item limit: key and header count against it
    near = b'\xab' * (1024 * 1024 - 512)
    rec('set near 1 MiB', lambda: c.set('big', near, noreply=False))
    rec('get near 1 MiB', lambda: c.get('big'))
    rec('set over 1 MiB', lambda: c.set('huge', b'x' * (1024 * 1024 + 1), noreply=False))
    rec('get over 1 MiB', lambda: c.get('huge'))
    rec('key too long', lambda: c.set('k' * 251, 'x', noreply=False))
    rec('binary value', lambda: (c.set('bin', bytes(range(256)), noreply=False), c.get('bin') == bytes(range(256))))
    stats = c.stats() if not hashed else None
    if stats is not None:
        rec('stats names', lambda: sorted(k.decode() for k in stats))
        rec('stats values', lambda: {k: stats[k.encode()] for k in ('curr_items', 'total_items', 'cmd_get', 'get_hits', 'get_misses', 'cmd_touch', 'touch_hits', 'cas_hits', 'cas_badval', 'cas_misses', 'incr_hits', 'decr_hits', 'incr_misses', 'delete_hits', 'delete_misses', 'version')})
        rec('stats settings', lambda: {k: v for k, v in c.stats('settings').items() if k in (b'item_size_max', b'maxbytes', b'cas_enabled', b'evictions')})
    if not hashed:  # HashClient has no version()
        rec('version', lambda: c.version())
    rec('flush_all at the end', lambda: c.flush_all(noreply=False))
    rec('get after flush_all', lambda: c.get_many(['q', 'n', 'big']))


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'client':
        client = Client(('127.0.0.1', int(sys.argv[2])), connect_timeout=5, timeout=5)
        workout(client, False)
    else:
        servers = [('127.0.0.1', int(p)) for p in sys.argv[2:]]
        # ignore_exc off: a server error must show up, not read as a miss
        client = HashClient(servers, connect_timeout=5, timeout=5, ignore_exc=False, retry_attempts=1)
        workout(client, True)
        # a key per server: HashClient spread the keys (the test checks each server directly)
        for i in range(40):
            client.set('spread:%d' % i, 'x', noreply=False)
    client.close() if hasattr(client, 'close') else None
    print(json.dumps(out))
