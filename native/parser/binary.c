/*
 * binary.c — memcached 1.6.18's binary protocol framing and header validation, parsed into
 * descriptors (remc_abi.h, "Binary protocol"). remc_parse (text.c) calls it when io->opts has
 * REMC_IN_BINARY.
 *
 * Runs inside the isolation domain, under the same rules as text.c: no libc, no globals, no
 * string literals or tables (.rodata), no switch (jump tables), no address-taken locals.
 * scripts/check-parser-freestanding.sh checks the built object.
 *
 * Behaviour is memcached 1.6.18 as it answers on the wire (proto_bin.c: try_read_command_binary,
 * dispatch_bin_command, process_bin_*), checked against the real server (test/compare/binary*):
 *   1. fewer than 24 bytes: wait;
 *   2. magic != 0x80: close, nothing answered;
 *   3. wait for header + extlen + keylen bytes (QUIRK: also before the framing check);
 *   4. keylen > bodylen or keylen + extlen > bodylen: 0x81 and close (CVE-2016-8704/5/6);
 *      bodylen > 1 GiB: 0x04 and close (memcached 1.6.42's fix; 1.6.18 misbehaved there);
 *   5. keylen > 250: 0x04 and close; (root: with -S, unauthenticated: 0x20 and close)
 *   6. extlen/keylen/bodylen wrong for the opcode: 0x04 and close;
 *   7. unknown opcode: 0x81, bodylen bytes after extras and key swallowed, connection kept.
 * The extras are never copied anywhere (CVE-2020-10931): the fields are read in place.
 */
#include "remc_abi.h"
#include "desc.h"


__attribute__((visibility("hidden"))) void remc_fault_inject(remc_parse_io *io, uint32_t kind);
__attribute__((visibility("hidden"))) void remc_parse_binary(remc_parse_io *io, const uint8_t *w);

#define AI static inline __attribute__((always_inline))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

AI uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
AI uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
AI uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* What an opcode is, for framing (memcached's dispatch_bin_command cases; Q variants alike). */
enum { K_UNKNOWN = 0, K_NOBODY, K_FLUSH, K_STORE, K_GET, K_DELETE, K_ARITH, K_CONCAT, K_STAT,
       K_SASL, K_TOUCH, K_FAULT };

AI uint32_t kind_of(uint32_t op, uint32_t opts) {
  if (op == REMC_BIN_GET || op == REMC_BIN_GETQ || op == REMC_BIN_GETK || op == REMC_BIN_GETKQ)
    return K_GET;
  if (op == REMC_BIN_SET || op == REMC_BIN_ADD || op == REMC_BIN_REPLACE || op == REMC_BIN_SETQ ||
      op == REMC_BIN_ADDQ || op == REMC_BIN_REPLACEQ)
    return K_STORE;
  if (op == REMC_BIN_DELETE || op == REMC_BIN_DELETEQ) return K_DELETE;
  if (op == REMC_BIN_INCREMENT || op == REMC_BIN_DECREMENT || op == REMC_BIN_INCREMENTQ ||
      op == REMC_BIN_DECREMENTQ)
    return K_ARITH;
  if (op == REMC_BIN_APPEND || op == REMC_BIN_PREPEND || op == REMC_BIN_APPENDQ ||
      op == REMC_BIN_PREPENDQ)
    return K_CONCAT;
  if (op == REMC_BIN_QUIT || op == REMC_BIN_QUITQ || op == REMC_BIN_NOOP ||
      op == REMC_BIN_VERSION || op == REMC_BIN_SASL_LIST_MECHS)
    return K_NOBODY;
  if (op == REMC_BIN_FLUSH || op == REMC_BIN_FLUSHQ) return K_FLUSH;
  if (op == REMC_BIN_STAT) return K_STAT;
  if (op == REMC_BIN_SASL_AUTH || op == REMC_BIN_SASL_STEP) return K_SASL;
  if (op == REMC_BIN_TOUCH || op == REMC_BIN_GAT || op == REMC_BIN_GATQ || op == REMC_BIN_GATK ||
      op == REMC_BIN_GATKQ)
    return K_TOUCH;
  if (op == REMC_BIN_DEBUG_FAULT && (opts & REMC_IN_FAULT_INJECTION)) return K_FAULT;
  return K_UNKNOWN;
}

AI void put(uint32_t *d, uint32_t op, uint32_t err, uint32_t flags, uint32_t start, uint32_t end,
            uint32_t koff, uint32_t klen, uint32_t doff, uint32_t dlen, uint64_t n0, uint64_t n1,
            uint64_t n2, uint32_t extlen, uint32_t opaque, uint64_t cas, uint32_t bodylen) {
  emit(d, op, err, flags, start, end, koff, klen, doff, dlen, n0, n1, n2, extlen);
  d[DB_OPAQUE] = opaque;
  d[DB_CAS_LO] = (uint32_t)cas;
  d[DB_CAS_HI] = (uint32_t)(cas >> 32);
  d[DB_BODYLEN] = bodylen;
  for (uint32_t i = DB_BODYLEN + 1; i < REMC_DESC_WORDS; i++) d[i] = 0;
}

void remc_parse_binary(remc_parse_io *io, const uint8_t *w) {
  const uint32_t len = io->len, cap = io->desc_cap, opts = io->opts;
  uint32_t pos = io->start, nd = 0;
  uint32_t status = REMC_PS_OK, why = REMC_CLOSE_NONE;
  uint32_t *const desc = io->desc;
  if (pos > len) pos = len; /* a root bug; parse nothing rather than read past the window */

  while (len - pos >= REMC_BIN_HEADER) {
    REMC_LOOP_TICK();
    const uint8_t *h = w + pos;
    if (h[0] != REMC_BIN_MAGIC_REQ) {
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_BIN_SILENT;
      break;
    }
    const uint32_t op = h[1], keylen = be16(h + 2), extlen = h[4], bodylen = be32(h + 8);
    const uint32_t opaque = be32(h + 12);
    const uint64_t cas = be64(h + 16);
    /* header + extras + key must be in (at most 24 + 255 + 65535 bytes) */
    const uint32_t eoff = pos + REMC_BIN_HEADER, koff = eoff + extlen, kend = koff + keylen;
    if (kend > len) break;
    if (UNLIKELY(nd >= cap)) {
      status = REMC_PS_FULL;
      break;
    }
    uint32_t *d = desc + (uint64_t)nd * REMC_DESC_WORDS;
    uint32_t err = REMC_BERR_NONE;
    if (keylen > bodylen || keylen + extlen > bodylen) err = REMC_BERR_FRAMING;
    else if (bodylen > REMC_BIN_BODY_MAX) err = REMC_BERR_BODY_TOO_LARGE;
    else if (keylen > REMC_KEY_MAX) err = REMC_BERR_KEY_TOO_LONG;
    if (err) {
      put(d, op, err, 0, pos, kend, keylen ? koff : 0, keylen, 0, 0, 0, 0, 0, extlen, opaque, cas,
          bodylen);
      nd++;
      pos = kend;
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_BIN_ERROR;
      break;
    }

    const uint32_t kind = kind_of(op, opts);
    const uint8_t *x = w + eoff;
    uint32_t ok = 0, end = kend, doff = 0, dlen = 0, flags = 0;
    uint64_t n0 = 0, n1 = 0, n2 = 0;
    /* memcached's per-opcode conditions (dispatch_bin_command), in its order */
    if (kind == K_NOBODY) {
      ok = extlen == 0 && keylen == 0 && bodylen == 0;
    } else if (kind == K_FLUSH) {
      ok = keylen == 0 && bodylen == extlen && (extlen == 0 || extlen == 4);
      if (ok && extlen == 4) n1 = be32(x);
    } else if (kind == K_STORE || kind == K_CONCAT || kind == K_SASL) {
      if (kind == K_STORE) ok = extlen == 8 && keylen != 0 && bodylen >= keylen + 8;
      else ok = keylen != 0 && extlen == 0;
      if (ok) {
        if (kind == K_STORE) n0 = be32(x), n1 = be32(x + 4);
        doff = kend;
        dlen = bodylen - keylen - extlen;
        /* memcached's vlen is an int: "negative" values read and swallow nothing */
        end = (int32_t)dlen < 0 ? doff : doff + dlen;
      }
    } else if (kind == K_GET || kind == K_DELETE) {
      ok = extlen == 0 && keylen > 0 && bodylen == keylen;
    } else if (kind == K_ARITH) {
      ok = keylen > 0 && extlen == 20 && bodylen == keylen + 20;
      if (ok) n0 = be64(x), n2 = be64(x + 8), n1 = be32(x + 16);
    } else if (kind == K_STAT) {
      ok = extlen == 0;
    } else if (kind == K_TOUCH) {
      ok = extlen == 4 && keylen != 0;
      if (ok) n1 = be32(x);
    } else if (kind == K_FAULT) {
      ok = extlen == 4 && keylen == 0 && bodylen == 4;
      if (ok) {
        n0 = be32(x);
        /* The fault happens here, inside the domain, as a real parser bug would. */
        remc_fault_inject(io, (uint32_t)n0);
      }
    } else { /* unknown: answered 0x81; QUIRK: bodylen more bytes swallowed after extras + key */
      ok = 1;
      err = REMC_BERR_UNKNOWN;
      end = kend + bodylen; /* (see end64 below) */
    }
    if (!ok) {
      put(d, op, REMC_BERR_ARGS, 0, pos, kend, keylen ? koff : 0, keylen, 0, 0, 0, 0, 0, extlen,
          opaque, cas, bodylen);
      nd++;
      pos = kend;
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_BIN_ERROR;
      break;
    }
    /* Only an unknown opcode's swallow can run past 32 bits (kend + bodylen): such a packet is
     * incomplete anyway and D_END is clamped (root computes the swallow from DB_BODYLEN). */
    const uint64_t end64 = err == REMC_BERR_UNKNOWN ? (uint64_t)kend + bodylen : (uint64_t)end;
    if (end64 > len) {
      flags = REMC_DF_DATA_INCOMPLETE;
      end = end64 > 0xffffffffull ? 0xffffffffu : (uint32_t)end64;
    }
    put(d, op, err, flags, pos, end, keylen ? koff : 0, keylen, doff, dlen, n0, n1, n2, extlen,
        opaque, cas, bodylen);
    nd++;
    if (flags) break; /* consumed stays at this packet's start */
    pos = end;
    if (op == REMC_BIN_QUIT || op == REMC_BIN_QUITQ) {
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_QUIT;
      break;
    }
  }
  io->status = status;
  io->consumed = pos;
  io->ndesc = nd;
  io->out_resume_off = 0;
  io->heap_used = 0;
  io->close_reason = why;
}
