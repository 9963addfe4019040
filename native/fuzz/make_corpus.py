#!/usr/bin/env python3
"""Writes the seed corpus of native/fuzz/fuzz_parser.c into native/fuzz/corpus/.

Each seed is the harness header (opts, descriptor area, split point) + client bytes: every
command, the memcached 1.6.18 quirks of reference/memcached-1.6.md section 1.11, the text
regression inputs of its section 3 (CVEs), and pipelines. Re-run after editing; file names are
stable (derived from the seed's name).
"""
import os
import struct

K250 = b"k" * 250
K251 = b"k" * 251

SEEDS = {
    # every command
    "get": b"get a\r\n",
    "get_multi": b"get a b c d e f g h\r\n",
    "gets": b"gets a b\r\n",
    "bget": b"bget a\r\n",
    "gat": b"gat 10 a b\r\n",
    "gats": b"gats -1 a\r\n",
    "gat_nokey": b"gat 0\r\n",
    "set": b"set k 1 2 3\r\nabc\r\n",
    "add": b"add k 0 0 1 noreply\r\nx\r\n",
    "replace": b"replace k 0 0 1\r\nx\r\n",
    "append": b"append k 0 0 1\r\nx\r\n",
    "prepend": b"prepend k 0 0 1\r\nx\r\n",
    "cas": b"cas k 0 0 1 12345\r\nx\r\n",
    "cas_noreply": b"cas k 0 0 1 12345 noreply\r\nx\r\n",
    "delete": b"delete k\r\ndelete k 0\r\ndelete k noreply\r\ndelete k 0 noreply\r\n",
    "incr": b"incr k 1\r\ndecr k 18446744073709551615 noreply\r\n",
    "touch": b"touch k 10\r\ntouch k 10 noreply\r\n",
    "stats": b"stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats cachedump 1 10\r\nstats detail on\r\nstats reset\r\n",
    "flush_all": b"flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 0 noreply\r\n",
    "version": b"version\r\n",
    "verbosity": b"verbosity 1\r\nverbosity 0 noreply\r\n",
    "quit": b"quit\r\nversion\r\n",
    "shutdown": b"shutdown\r\nshutdown graceful\r\n",
    "cache_memlimit": b"cache_memlimit 64\r\ncache_memlimit 64 noreply\r\n",
    "debugtime": b"debugtime 5\r\ndebugtime p\r\ndebugtime r\r\ndebugtime -5\r\n",
    "debug_fault": b"debug_fault 1\r\ndebug_fault x\r\n",
    # quirks (section 1.11 and proto_text.c)
    "q_errors": b"bogus\r\n\r\nGET foo\r\nget\r\nset k 0 0\r\nstats bogus\r\nstats noreply\r\nverbosity\r\ncache_memlimit abc\r\n",
    "q_bare_lf": b"version\nget a\nset k 0 0 1\nx\r\n",
    "q_tab": b"get\tk\r\nset k\tj 0 0 1\r\nx\r\n",
    "q_nul": b"version\x00junk\r\nver\x00sion\r\nget k\x00 j\r\n\x00\r\n",
    "q_cr": b"version\r\r\nset k 0 0 1\rxx\r\nx\r\n\r\n",
    "q_key251": b"get " + K251 + b"\r\n",
    "q_key251_hits": b"set a 0 0 1\r\nx\r\nget a a " + K251 + b" a\r\n",
    "q_key250": b"set " + K250 + b" 0 0 1\r\nx\r\nget " + K250 + b" " + K250 + b"\r\n",
    "q_set_key251": b"set " + K251 + b" 0 0 1\r\nx\r\n",
    "q_other_key251": b"incr " + K251 + b" 1\r\ntouch " + K251 + b" 1\r\ndelete " + K251 + b" noreply\r\n",
    "q_bad_chunk": b"set k 0 0 3\r\nabcd\r\n",
    "q_bad_chunk_noreply": b"set n 0 0 1 noreply\r\nxy\r\n",
    "q_bad_chunk_lf": b"set k 0 0 1\r\nx\n\r\n",
    "q_neg_bytes": b"set k 0 0 -1\r\n",
    "q_big_bytes": b"set k 0 0 2097152\r\nxxxx",
    "q_control_key": b"set a\x01b 0 0 1\r\nx\r\n",
    "q_delete_legacy": b"delete d 0\r\ndelete d 5\r\ndelete d 5 noreply\r\ndelete d 00\r\n",
    "q_flush": b"flush_all noreply\r\nflush_all abc\r\nflush_all -1\r\nflush_all noreply 5\r\n",
    "q_verbosity": b"verbosity 0 noreply\r\nverbosity noreply\r\nverbosity foo bar my\r\nverbosity invalid\r\n",
    "q_http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "q_http_23": b"GET k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 HTTP/1.1 x\r\n",
    "q_noreply_last": b"set k 0 0 noreply\r\ntouch k noreply\r\nincr k noreply\r\n",
    "q_numbers": b"set k 4294967296 0 -4294967295\r\nx\r\nset k +5 \t9 5\tzz\r\n12345\r\nset k 0x5 0 1\r\nx\r\n",
    "q_gat_exptime": b"gat abc a\r\ngat abc\r\n",
    "q_meta": b"mg k v\r\nmn\r\nms k 1\r\nx\r\nma k\r\nmd k\r\nme k\r\n",
    "q_version_args": b"version foo bar\r\nversion noreply\r\n",
    "q_24_tokens": b"delete k 0 noreply" + b" x" * 30 + b"\r\n",
    # section 3: text regression inputs of the CVEs
    "cve_2009_2415_a": b"set k 0 0 -1\r\n",
    "cve_2009_2415_b": b"set k 0 0 4294967295\r\n",
    "cve_2009_2415_c": b"set k 0 0 2147483647\r\njunkjunk\r\n",
    "cve_2010_1152_nolf": b"set " + b"a" * 3000,
    "cve_2010_1152_nul": b"\x00" * 3000,
    "cve_2010_1152_get": b"get " + b"a " * 1500,
    "cve_2018_1000127": b"get" + b" k" * 4000 + b"\r\n",
    "cve_2019_11596": b"lru mode\r\nlru temp_ttl\r\n",
    "cve_2023_46852": b"get" + b" " * 800 + b"key1 key2\r\n",
    "cve_2023_46853": b"mg foo v\nget foo\nmd foo q\n",
    "cve_2020_22570": b"mg k Fabc\r\n",
    "regress_misc": b"slabs automove x\r\nverbosity invalid\r\nmg k " + b"v " * 21 + b"\r\nmg k O" + b"x" * 40 + b"\r\n",
    # pipelines
    "pipe_mixed": b"set a 0 0 5\r\nhello\r\nget a b c\r\ngets a\r\ndelete a noreply\r\nincr n 1\r\n"
                  b"decr n 1 noreply\r\ntouch a 10\r\ngat 5 a b c\r\nversion\r\nquit\r\n",
    "pipe_errors": b"cas k 1 2 3 4\r\nabc\r\nset k 0 0 3\r\nabcd\r\nget k k k\r\n\r\nstats\r\nflush_all 0\r\n",
    "pipe_partial": b"get a\r\nset k 0 0 10\r\n0123",
    "pipe_many_sets": b"".join(b"set k%d 0 0 2\r\nxy\r\n" % i for i in range(40)),
    "pipe_many_gets": b"".join(b"get k%d k%d\r\n" % (i, i + 1) for i in range(40)),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for name, body in SEEDS.items():
        variants = [
            (0x00, 0xff, len(body)),          # one read, big descriptor area
            (0x03, 0x01, len(body) // 2),     # split in the middle, tiny area, debug opts on
        ]
        for i, (opts, cap, split) in enumerate(variants):
            hdr = struct.pack("<BBH", opts, cap, split & 0xFFFF)
            with open(os.path.join(out, "%s.%d" % (name, i)), "wb") as f:
                f.write(hdr + body)


if __name__ == "__main__":
    main()
