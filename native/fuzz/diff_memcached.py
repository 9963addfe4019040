#!/usr/bin/env python3
"""Differential test: the parser's descriptors against the real memcached 1.6.18.

Random request streams (well-formed commands mutated with memcached's quirky inputs: odd
numbers, noreply in odd places, TABs, NULs, bare LF, wrong data lengths, unknown names) are
parsed by native/fuzz/parse_cli (the parser + validator); a small model of memcached's item
semantics turns the descriptors into the exact reply bytes memcached must send; the stream is
sent to a fresh memcached and the bytes compared. A mismatch prints the stream.

  native/fuzz/diff_memcached.py [iterations] [seed]      (default 300; needs /usr/bin/memcached)

Excluded because they depend on memcached's reply batching or on the clock, not on parsing:
long keys inside multigets (memcached then drops earlier pipelined replies), HTTP lines and
over-long lines (they drop unflushed replies), positive flush_all delays, TTLs of 1-2 s, stats.
"""
import os
import random
import re
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "out")
ABI = open(os.path.join(ROOT, "native/include/remc_abi.h")).read()

# op and error ids from the header's X-macros (one source of truth)
_cmds = ABI[ABI.index("#define REMC_TEXT_COMMANDS"):ABI.index("enum remc_op")]
OPS = ["NONE", "UNKNOWN"] + re.findall(r"X\((\w+),", _cmds)
_errs = ABI[ABI.index("#define REMC_PARSE_ERRORS"):ABI.index("enum remc_perr")]
ERRS = re.findall(r"X\((\w+)\)", _errs)
ERR_TEXT = {
    "ERROR": b"ERROR",
    "BAD_FORMAT": b"CLIENT_ERROR bad command line format",
    "BAD_DATA_CHUNK": b"CLIENT_ERROR bad data chunk",
    "DELETE_USAGE": b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
    "INVALID_EXPTIME": b"CLIENT_ERROR invalid exptime argument",
    "INVALID_DELTA": b"CLIENT_ERROR invalid numeric delta argument",
    "KEY_TOO_LONG": b"CLIENT_ERROR bad command line format",
}
DF_NOREPLY, DF_LAST_KEY, DF_INCOMPLETE, DF_HAS_ARG = 1, 2, 4, 8


def build_cli():
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(OUT, "parse_cli")
    import glob
    srcs = [f for f in glob.glob(os.path.join(ROOT, "native/parser/*.c")) if not f.endswith("/fault_inject.c")]
    srcs += glob.glob(os.path.join(ROOT, "native/binding/validate*.c"))
    subprocess.check_call(["gcc", "-O1", "-g", "-std=gnu11", "-I", os.path.join(ROOT, "native/include"),
                           "-fsanitize=address,undefined", "-o", exe, os.path.join(HERE, "parse_cli.c")] + srcs)
    return exe


def parse(exe, data, cap):
    r = subprocess.run([exe, str(cap)], input=data, capture_output=True, check=True)
    descs = []
    status = None
    for line in r.stdout.decode().splitlines():
        f = line.split()
        if f[0] == "status":
            status = tuple(int(x) for x in f[1:])
        elif f[0] == "invalid":
            raise AssertionError("validator rejected parser output: " + line)
        else:
            descs.append([int(x) for x in f])
    return descs, status


# ---- memcached's numbers (util.c) for the incr/decr model ----------------------------------
def safe_strtoull(b):
    """glibc strtoull + memcached's checks, over bytes up to the first NUL."""
    s = b.split(b"\0", 1)[0]
    i = 0
    while i < len(s) and s[i] in b" \t\n\v\f\r":
        i += 1
    neg = False
    if i < len(s) and s[i] in b"+-":
        neg = s[i] == ord("-")
        i += 1
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return None
    v = int(s[i:j])
    if v >= 1 << 64:
        return None
    if j < len(s) and s[j] not in b" \t\n\v\f\r":
        return None
    if neg:
        v = (-v) & ((1 << 64) - 1)
    if v >= 1 << 63 and b"-" in s:
        return None
    return v


class Model:
    """Just enough of memcached's item semantics to predict replies exactly."""

    def __init__(self, now):
        self.items = {}  # key -> [flags, value, exptime_abs or 0]
        self.now = now

    def expiry(self, e):
        if e == 0:
            return 0
        if e < 0:
            return -1  # already expired
        if e <= 2592000:
            return self.now + e
        return e if e > self.now else -1

    def alive(self, k):
        it = self.items.get(k)
        if it is None:
            return None
        if it[2] == -1 or (it[2] and it[2] <= self.now):
            del self.items[k]
            return None
        return it


def reply(model, w, d):
    op, err, fl = OPS[d[0]], ERRS[d[1]], d[2]
    key = w[d[5]:d[5] + d[6]]
    data = w[d[7]:d[7] + d[8]]
    n0, n1, n2 = d[9], d[10], d[11]
    nr = fl & DF_NOREPLY

    def out(b):
        return b"" if nr else b + b"\r\n"

    if op == "UNKNOWN":
        return b"ERROR\r\n"
    if fl & DF_INCOMPLETE:
        return b""  # memcached waits for the block (and holds its unflushed replies)
    if err != "NONE":
        if op == "CACHE_MEMLIMIT" and err == "ERROR":
            return out(b"ERROR")
        return out(ERR_TEXT[err])
    if op in ("GET", "GETS", "GAT", "GATS"):
        r = b""
        if d[6]:
            it = model.alive(key)
            if it:
                r += b"VALUE %s %d %d" % (key, it[0], len(it[1]))
                if op in ("GETS", "GATS"):
                    r += b" CAS"
                r += b"\r\n" + it[1] + b"\r\n"
                if op in ("GAT", "GATS"):
                    it[2] = model.expiry(n1)
        if fl & DF_LAST_KEY:
            r += b"END\r\n"
        return r
    if op in ("SET", "ADD", "REPLACE", "APPEND", "PREPEND", "CAS"):
        it = model.alive(key)
        if op == "SET":
            model.items[key] = [n0, data, model.expiry(n1)]
            return out(b"STORED")
        if op == "ADD":
            if it:
                return out(b"NOT_STORED")
            model.items[key] = [n0, data, model.expiry(n1)]
            return out(b"STORED")
        if op == "REPLACE":
            if not it:
                return out(b"NOT_STORED")
            model.items[key] = [n0, data, model.expiry(n1)]
            return out(b"STORED")
        if op in ("APPEND", "PREPEND"):
            if not it:
                return out(b"NOT_STORED")
            it[1] = it[1] + data if op == "APPEND" else data + it[1]
            return out(b"STORED")
        if not it:
            return out(b"NOT_FOUND")
        return out(b"EXISTS")  # the generator never sends a matching cas unique
    if op == "DELETE":
        if model.alive(key):
            del model.items[key]
            return out(b"DELETED")
        return out(b"NOT_FOUND")
    if op in ("INCR", "DECR"):
        it = model.alive(key)
        if not it:
            return out(b"NOT_FOUND")
        v = safe_strtoull(it[1] + b"\r\n") if it[1] else None
        if v is None:
            return out(b"CLIENT_ERROR cannot increment or decrement non-numeric value")
        v = (v + n0) & ((1 << 64) - 1) if op == "INCR" else max(v - n0, 0)
        s = b"%d" % v
        it[1] = s + b" " * (len(it[1]) - len(s)) if len(s) <= len(it[1]) else s
        return out(s)
    if op == "TOUCH":
        it = model.alive(key)
        if it:
            it[2] = model.expiry(n1)
            return out(b"TOUCHED")
        return out(b"NOT_FOUND")
    if op == "FLUSH_ALL":
        model.items.clear()  # the generator only sends delays <= 0
        return out(b"OK")
    if op == "VERBOSITY":
        return out(b"OK")
    if op == "CACHE_MEMLIMIT":
        if n0 < 8:
            return out(b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m")
        if n0 > 1000000000:
            return out(b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes")
        return out(b"OK")
    if op == "VERSION":
        return b"VERSION 1.6.18\r\n"
    if op == "SHUTDOWN":
        return b"ERROR: shutdown not enabled\r\n"
    if op == "QUIT":
        return b""
    if op in ("SLABS", "LRU"):
        return out(b"ERROR")  # the generator sends them only without a valid subcommand ("slabs", "lru mode")
    raise AssertionError("no model for " + op)


# ---- the generator -----------------------------------------------------------------------
KEYS = [b"a", b"b", b"n", b"m", b"\x01k", b"t\tk", b"noreply", b"k" * 250]
NUMS = [b"0", b"0", b"0", b"7", b"+5", b"-1", b"4294967296", b"4294967295", b"18446744073709551615",
        b"18446744073709551616", b"-18446744073709551611", b"abc", b"5\tx", b"\t7", b"0x5", b"00",
        b"99999999999", b"-0", b"+", b"-", b"12\r"]
EXPS = [b"0", b"0", b"100", b"-1", b"99999999999", b"4294967296", b"abc", b"+100", b"\t0"]


def pick(r, pool):
    return r.choice(pool)


def gen_command(r):
    k = r.random()
    key = pick(r, KEYS)
    nr = b" noreply" if r.random() < 0.25 else b""
    sep = b"\r\n" if r.random() < 0.85 else b"\n"
    if k < 0.35:
        cmd = r.choice([b"set", b"add", b"replace", b"append", b"prepend", b"cas"])
        val = r.choice([b"", b"x", b"42", b"99", b"18446744073709551615", b" 12", b"-3", b"abc", b"7\r\n8"])
        n = len(val)
        nb = b"%d" % n
        roll = r.random()
        if roll < 0.05:
            nb = b"%d" % (n + 1)  # bad data chunk
        elif roll < 0.08 and n == 0:
            nb = b"4294967296"
        elif roll < 0.10:
            nb = r.choice([b"-1", b"abc", b"2147483646", b"4294967295"])  # bad format, no data
        flags = pick(r, NUMS) if r.random() < 0.4 else b"%d" % r.randrange(0, 70000)
        exp = pick(r, EXPS)
        line = b"%s %s %s %s %s" % (cmd, key, flags, exp, nb)
        if cmd == b"cas":
            line += b" " + r.choice([b"99999", b"abc", b"-1", b"18446744073709551616", b"123456789"])
        if r.random() < 0.05:
            line += b" junk"
        line += nr + sep
        if r.random() < 0.05:
            line = line.replace(b" noreply", b"")[:-len(sep)] + b" noreply" + sep
        return line + val + b"\r\n"
    if k < 0.55:
        cmd = r.choice([b"get", b"gets", b"gat", b"gats", b"bget"])
        keys = b" ".join(pick(r, KEYS[:-1]) for _ in range(r.randrange(0, 30)))
        if cmd.startswith(b"gat"):
            return b"%s %s %s%s" % (cmd, pick(r, EXPS), keys, sep)
        return b"%s %s%s" % (cmd, keys, sep)
    if k < 0.62:
        return b"delete %s%s%s%s" % (key, r.choice([b"", b"", b" 0", b" 5", b" 00"]), nr, sep)
    if k < 0.72:
        return b"%s %s %s%s%s" % (r.choice([b"incr", b"decr"]), key, pick(r, NUMS), nr, sep)
    if k < 0.78:
        return b"touch %s %s%s%s" % (key, pick(r, EXPS), nr, sep)
    if k < 0.81:
        return b"flush_all%s%s%s" % (r.choice([b"", b" 0", b" -1", b" abc", b" noreply"]), nr, sep)
    if k < 0.85:
        return b"verbosity%s%s%s" % (r.choice([b"", b" 1", b" abc", b" -1", b" 1 2 3", b" 4294967296"]), nr, sep)
    if k < 0.87:
        return b"cache_memlimit %s%s%s" % (r.choice([b"64", b"abc", b"5", b"2000000000", b"4294967360"]), nr, sep)
    if k < 0.90:
        return r.choice([b"version", b"version x y", b"shutdown", b"shutdown graceful"]) + sep
    if k < 0.97:
        # garbage-ish lines that are not HTTP and not too long
        junk = r.choice([b"", b" ", b"GET foo", b"x", b"slabs", b"lru mode", b"\x00",
                         b"get\tk", b"sets", b"debugtime 5", b"debug_fault 1", b"\r", b"set k 0 0"])
        return junk + sep
    return b"quit" + sep


def run_memcached(port):
    args = ["memcached", "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-m", "64"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("memcached did not start")


def exchange(port, data, expect_len=None):
    """Send, then read until the connection closes, or (no half-close: memcached may drop
    pipelined work when it sees EOF) until the expected byte count arrived and nothing more
    comes for a moment."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    out = b""
    deadline = time.time() + 3.0
    while time.time() < deadline:
        enough = expect_len is not None and len(out) >= expect_len
        s.settimeout(0.05 if enough else 0.5)
        try:
            b = s.recv(65536)
        except socket.timeout:
            if enough or expect_len is None:
                break
            continue
        if not b:
            break
        out += b
    s.close()
    return out


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    exe = build_cli()
    port = 22000 + os.getpid() % 1000
    mc = run_memcached(port)
    r = random.Random(seed)
    fails = 0
    try:
        for it in range(iters):
            exchange(port, b"flush_all\r\n", 4)
            model = Model(int(time.time()))
            # two sentinels: a data block one byte short swallows the first one's "v"
            stream = b"".join(gen_command(r) for _ in range(r.randrange(1, 25)))
            stream += b"version\r\nversion\r\n"
            descs, status = parse(exe, stream, r.choice([1, 2, 3, 64]))
            want = b"".join(reply(model, stream, d) for d in descs)
            got = exchange(port, stream, len(want))
            got = re.sub(rb"(VALUE [^ ]+ \d+ \d+) \d+\r\n", rb"\1 CAS\r\n", got)
            if got != want:
                fails += 1
                print("MISMATCH (seed %d, iteration %d)\n  stream: %r\n  want:   %r\n  got:    %r"
                      % (seed, it, stream, want, got))
                if fails >= 5:
                    break
    finally:
        mc.terminate()
        mc.wait()
    print("diff_memcached: %d streams, %d mismatches (seed %d)" % (it + 1, fails, seed))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
