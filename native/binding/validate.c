/*
 * validate.c — root's re-check of everything the parser returned (DESIGN.md invariant 2).
 *
 * The parser runs in a domain that a hostile client may have taken over, so its output is
 * treated like client input: every offset must lie inside the bytes root gave it, every length
 * within the protocol's limits, every code in range and possible for its op. Anything that a
 * correct parser could emit for some input passes; so a subverted parser can make root do no
 * more than a client could by sending those bytes itself.
 *
 * The in-fields are taken from root's own copy (req): the domain could have rewritten io.
 * Cost: a few compares per descriptor (see bench/parser_bench.c).
 */
#include "remc_abi.h"

#define B(op) (1ull << REMC_OP_##op)
_Static_assert(REMC_OP_COUNT <= 64, "op masks are 64-bit");

#define M_GET (B(GET) | B(GETS) | B(GAT) | B(GATS))
#define M_STORE (B(SET) | B(ADD) | B(REPLACE) | B(APPEND) | B(PREPEND) | B(CAS))
#define M_KEY (M_GET | M_STORE | B(DELETE) | B(INCR) | B(DECR) | B(TOUCH))
#define M_ADMIN (B(SLABS) | B(LRU) | B(LRU_CRAWLER) | B(WATCH) | B(EXTSTORE) | B(REFRESH_CERTS))
#define M_NOREPLY                                                                             \
  (M_STORE | B(DELETE) | B(INCR) | B(DECR) | B(TOUCH) | B(FLUSH_ALL) | B(VERBOSITY) |         \
   B(CACHE_MEMLIMIT) | M_ADMIN)
#define M_HAS_ARG (B(DELETE) | B(FLUSH_ALL) | B(STATS) | B(DEBUGTIME))
#define M_EXPTIME (M_STORE | B(GAT) | B(GATS) | B(TOUCH) | B(FLUSH_ALL))
#define M_N0_U32 (M_STORE | B(VERBOSITY) | B(CACHE_MEMLIMIT) | B(DEBUG_FAULT) | B(STATS))
#define M_ALL (((1ull << REMC_OP_COUNT) - 1) & ~1ull) /* every op but NONE */

/* Which ops each parse error can come with (mirrors native/parser/text.c). */
static const uint64_t err_ops[REMC_PERR_COUNT] = {
    [REMC_PERR_NONE] = M_ALL & ~B(UNKNOWN),
    [REMC_PERR_ERROR] = B(UNKNOWN) | B(CACHE_MEMLIMIT) | B(DEBUGTIME),
    [REMC_PERR_BAD_FORMAT] = M_STORE | B(VERBOSITY) | B(DEBUG_FAULT),
    [REMC_PERR_BAD_DATA_CHUNK] = M_STORE,
    [REMC_PERR_DELETE_USAGE] = B(DELETE),
    [REMC_PERR_INVALID_EXPTIME] = B(GAT) | B(GATS) | B(TOUCH) | B(FLUSH_ALL),
    [REMC_PERR_INVALID_DELTA] = B(INCR) | B(DECR),
    [REMC_PERR_KEY_TOO_LONG] = M_KEY,
};

/*
 * A meta descriptor (remc_abi.h "Meta descriptors", native/parser/meta.c): what memcached's flag
 * pass can produce, and offsets inside the command. `last`: it is the call's last descriptor.
 */
#define MERR_B(id) (1u << REMC_MERR_##id)
static int validate_meta(const uint32_t *d, int last, uint32_t len, uint32_t consumed,
                         uint32_t status, uint32_t prev_e) {
  const uint32_t op = d[D_OP], err = d[D_ERR], fl = d[D_FLAGS], s = d[D_START], e = d[D_END];
  const uint32_t ko = d[D_KEY_OFF], kl = d[D_KEY_LEN], dof = d[D_DATA_OFF], dl = d[D_DATA_LEN];
  const int ms = op == REMC_OP_MS;
  if (err >= REMC_MERR_COUNT) return REMC_V_ERR;
  uint32_t errs = MERR_B(NONE);
  if (op == REMC_OP_ME) errs |= MERR_B(BAD_FORMAT);
  else if (op != REMC_OP_MN) errs |= MERR_B(ERROR) | MERR_B(BAD_FORMAT);
  if (op == REMC_OP_MG) errs |= MERR_B(FLAGS_TOO_LONG_MG);
  if (ms || op == REMC_OP_MD || op == REMC_OP_MA) errs |= MERR_B(FLAGS_TOO_LONG);
  if (ms) errs |= MERR_B(BAD_DATA_CHUNK);
  if (op == REMC_OP_MG || ms)
    errs |= MERR_B(INVALID_FLAG) | MERR_B(DUP_FLAG) | MERR_B(BAD_TOKEN) | MERR_B(DECODE_KEY) |
            MERR_B(M_LENGTH) | MERR_B(INVALID_INITIAL) | MERR_B(INVALID_DELTA);
  if (op == REMC_OP_MD || op == REMC_OP_MA) errs |= MERR_B(INVALID_OR_DUP);
  if (!((errs >> err) & 1)) return REMC_V_ERR;

  if (fl & ~(REMC_DF_NOREPLY | REMC_DF_DATA_INCOMPLETE)) return REMC_V_FLAGS;
  if ((fl & REMC_DF_DATA_INCOMPLETE) && !ms) return REMC_V_FLAGS;
  if (s >= e) return REMC_V_RANGE;
  if (s < prev_e) return REMC_V_ORDER;
  if (fl & REMC_DF_DATA_INCOMPLETE) {
    if (!last || s != consumed || status != REMC_PS_OK || dof > len || e <= len) return REMC_V_INCOMPLETE;
  } else if (e > consumed) {
    return REMC_V_RANGE;
  }

  /* ms: exactly <datalen> + "\r\n" after the line; errors that swallow carry that block too */
  const int keyed = err == REMC_MERR_NONE || err == REMC_MERR_BAD_DATA_CHUNK;
  if (dof || dl) {
    if (!ms || dof <= s || dl > REMC_VALUE_LEN_MAX || (uint64_t)e != (uint64_t)dof + dl + 2)
      return REMC_V_DATA;
  } else if (ms && keyed) {
    return REMC_V_DATA;
  }
  const uint32_t line_end = dof ? dof : e;

  /* everything else only on a command that will be executed */
  if (!keyed || op == REMC_OP_MN) {
    if (ko || kl || (fl & REMC_DF_NOREPLY)) return REMC_V_KEY;
    for (uint32_t w = D_N0_LO; w <= D_N2_HI; w++)
      if (d[w]) return REMC_V_NUMBER;
    for (uint32_t w = D_M_FLAGS0; w < REMC_DESC_WORDS; w++)
      if (d[w]) return REMC_V_FLAGS;
    return REMC_V_OK;
  }
  if (kl == 0 || kl > REMC_KEY_MAX || ko < s || ko > line_end || kl > line_end - ko) return REMC_V_KEY;

  /* the flag letters: known, distinct, in the words, q <=> NOREPLY; me knows only b */
  const uint32_t nf = d[D_M_NFLAGS];
  if (nf > REMC_META_FLAGS_MAX) return REMC_V_FLAGS;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < 20; i++) {
    const uint32_t c = (d[D_M_FLAGS0 + i / 4] >> (8 * (i % 4))) & 0xff;
    if (i >= nf) {
      if (c) return REMC_V_FLAGS;
      continue;
    }
    if (!remc_meta_known_flag(c) || (op == REMC_OP_ME && c != 'b')) return REMC_V_FLAGS;
    const uint64_t bit = 1ull << (c - 'A');
    if (seen & bit) return REMC_V_FLAGS;
    seen |= bit;
  }
#define HAS(c) ((seen >> ((c) - 'A')) & 1)
  if (HAS('q') != ((fl & REMC_DF_NOREPLY) != 0)) return REMC_V_FLAGS;
  const uint32_t oo = d[D_M_OPAQUE_OFF], ol = d[D_M_OPAQUE_LEN];
  if (HAS('O') ? (ol == 0 || oo < s || oo > line_end || ol > line_end - oo) : (oo || ol))
    return REMC_V_FLAGS;
  if (!HAS('M') && d[D_M_MODE]) return REMC_V_FLAGS;
  if (d[D_M_MODE] > 0xff) return REMC_V_FLAGS;
  /* memcached's base64_decode gives at most 3 bytes per 4 key bytes, and 0 means failure */
  if (HAS('b') ? (d[D_M_KEY_DLEN] == 0 || d[D_M_KEY_DLEN] > kl / 4 * 3) : d[D_M_KEY_DLEN] != 0)
    return REMC_V_KEY;
  /* numbers only where their flag was given */
  if ((!HAS('C') && (d[D_N0_LO] | d[D_N0_HI])) || (!HAS('T') && d[D_N1_LO]) ||
      (!HAS('N') && d[D_N1_HI]) || (!HAS('J') && (d[D_N2_LO] | d[D_N2_HI])) ||
      (!HAS('D') && (d[D_M_DELTA_LO] | d[D_M_DELTA_HI])) || (!HAS('R') && d[D_M_RECACHE]) ||
      (!HAS('F') && d[D_M_CLIENT_FLAGS]))
    return REMC_V_NUMBER;
#undef HAS
  for (uint32_t w = D_M_KEY_DLEN + 1; w < REMC_DESC_WORDS; w++)
    if (d[w]) return REMC_V_FLAGS;
  return REMC_V_OK;
}
#undef MERR_B

/* Binary-protocol calls have their own descriptor layout (native/binding/validate_binary.c). */
__attribute__((visibility("hidden"))) int remc_validate_binary(const remc_parse_io *io,
                                                               const remc_parse_req *req,
                                                               uint32_t window_cap);

int remc_validate(const remc_parse_io *io, const remc_parse_req *req, uint32_t window_cap) {
  if (req->opts & REMC_IN_BINARY) return remc_validate_binary(io, req, window_cap);
  const uint32_t len = req->len, start = req->start;
  /* Offsets are 32-bit; keeping the window under 2 GiB keeps every sum below in range. */
  if (start > len || len > window_cap || window_cap > 0x7fffffffu) return REMC_V_REQ;

  const uint32_t status = io->status, consumed = io->consumed, n = io->ndesc;
  const uint32_t why = io->close_reason, resume = io->out_resume_off;
  if (status >= REMC_PS_COUNT || why >= REMC_CLOSE_COUNT ||
      (status == REMC_PS_CLOSE) != (why != REMC_CLOSE_NONE))
    return REMC_V_STATUS;
  if (consumed < start || consumed > len) return REMC_V_CONSUMED;
  if (n > req->desc_cap) return REMC_V_NDESC;
  if (io->heap_used > req->heap_size) return REMC_V_HEAP;
  if (status == REMC_PS_FULL && n == 0) return REMC_V_NO_PROGRESS;
  if (resume && status != REMC_PS_FULL) return REMC_V_RESUME;

  uint64_t enabled = M_ALL;
  if (!(req->opts & REMC_IN_DEBUGTIME)) enabled &= ~B(DEBUGTIME);
  if (!(req->opts & REMC_IN_FAULT_INJECTION)) enabled &= ~B(DEBUG_FAULT);

  uint32_t prev_op = 0, prev_s = 0, prev_e = start, prev_fl = REMC_DF_LAST_KEY, prev_kend = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t *d = io->desc + (uint64_t)i * REMC_DESC_WORDS;
    const uint32_t op = d[D_OP], err = d[D_ERR], fl = d[D_FLAGS], s = d[D_START], e = d[D_END];
    const uint32_t ko = d[D_KEY_OFF], kl = d[D_KEY_LEN], dof = d[D_DATA_OFF], dl = d[D_DATA_LEN];
    if (op >= REMC_OP_COUNT) return REMC_V_OP;
    const uint64_t bit = 1ull << op;
    if (!(bit & enabled)) return REMC_V_OP;
    if (op >= REMC_OP_MG) { /* meta commands: their own layout */
      int v = validate_meta(d, i == n - 1, len, consumed, status, prev_e);
      if (v) return v;
      prev_op = op, prev_s = s, prev_e = e, prev_fl = fl, prev_kend = ko + kl;
      continue;
    }
    if (err >= REMC_PERR_COUNT || !(err_ops[err] & bit)) return REMC_V_ERR;

    if (fl & ~REMC_DF_ALL) return REMC_V_FLAGS;
    if (((fl & REMC_DF_NOREPLY) && !(bit & M_NOREPLY)) ||
        ((fl & REMC_DF_LAST_KEY) && !(bit & M_GET)) ||
        ((fl & REMC_DF_HAS_ARG) && !(bit & M_HAS_ARG)) ||
        ((fl & REMC_DF_DATA_INCOMPLETE) && !(bit & M_STORE)) ||
        (err && (fl & ~REMC_DF_NOREPLY)))
      return REMC_V_FLAGS;

    /* Order: the next command starts where the previous ended or later; several descriptors of
     * one multiget share D_START/D_END and their keys go forward. */
    if (s >= e) return REMC_V_RANGE;
    if (i > 0 && s == prev_s) {
      if (!(bit & M_GET) || op != prev_op || e != prev_e || (prev_fl & REMC_DF_LAST_KEY) || err ||
          ko < prev_kend)
        return REMC_V_ORDER;
    } else if (s < prev_e) {
      return REMC_V_ORDER;
    }

    const int keyed_ok = (bit & M_KEY) && (err == REMC_PERR_NONE || err == REMC_PERR_BAD_DATA_CHUNK);
    const int stored = (bit & M_STORE) && keyed_ok;
    if (fl & REMC_DF_DATA_INCOMPLETE) {
      /* line in the window, data block not (yet): D_END may lie beyond len */
      if (i != n - 1 || s != consumed || status != REMC_PS_OK || dof > len || e <= len)
        return REMC_V_INCOMPLETE;
    } else if (e > consumed) {
      /* only a multiget cut by FULL runs past consumed, and only within the window */
      if (!(bit & M_GET) || status != REMC_PS_FULL || !resume || s != consumed || e > len)
        return REMC_V_RANGE;
    }

    /* Key: inside its command line (before the data block), 1..250 bytes when the op has one. */
    const uint32_t line_end = stored ? dof : e;
    if (kl && (ko < s || ko > line_end || kl > line_end - ko)) return REMC_V_KEY;
    if (keyed_ok) {
      if (kl > REMC_KEY_MAX) return REMC_V_KEY;
      /* "gat <exptime>" alone: one descriptor without a key */
      if (kl == 0 && !((op == REMC_OP_GAT || op == REMC_OP_GATS) && (fl & REMC_DF_LAST_KEY) &&
                       ko == 0 && (i == 0 || s != prev_s)))
        return REMC_V_KEY;
    } else if (kl && !(bit & (B(STATS) | B(SHUTDOWN) | B(DEBUGTIME)))) {
      return REMC_V_KEY;
    }

    /* Data: storage has exactly <bytes> + "\r\n" after its line; stats' second argument lies
     * inside the line; nothing else has data. */
    if (stored) {
      if (dof <= s || dof < ko + kl || dl > REMC_VALUE_LEN_MAX ||
          (uint64_t)e != (uint64_t)dof + dl + 2)
        return REMC_V_DATA;
    } else if (dl || dof) {
      if (op != REMC_OP_STATS || dof < s || dof > e || dl > e - dof) return REMC_V_DATA;
    }

    /* Numbers that memcached's 32-bit parsing cannot produce. */
    if (((bit & M_EXPTIME) && d[D_N1_HI] != (uint32_t)((int32_t)d[D_N1_LO] >> 31)) ||
        ((bit & M_N0_U32) && d[D_N0_HI]) || (op == REMC_OP_STATS && d[D_N1_HI]))
      return REMC_V_NUMBER;

    if (op == REMC_OP_QUIT && (i != n - 1 || why != REMC_CLOSE_QUIT)) return REMC_V_QUIT;

    /* Admin commands: no numbers; D_AUX tokens of which the first ones' (offset, length) pairs
     * lie in order inside the line, after the command name; unused pairs 0. Other text ops leave
     * those words alone (root does not read them). */
    if (bit & M_ADMIN) {
      const uint32_t nt = d[D_AUX];
      if (nt < 1 || nt > REMC_TOKENS_MAX) return REMC_V_NUMBER;
      for (uint32_t w = D_N0_LO; w <= D_N2_HI; w++)
        if (d[w]) return REMC_V_NUMBER;
      const uint32_t ntok = nt - 1 < REMC_ADMIN_TOKENS_MAX ? nt - 1 : REMC_ADMIN_TOKENS_MAX;
      uint32_t from = s + 1; /* past the command name's first byte at least */
      for (uint32_t t = 0; t < REMC_ADMIN_TOKENS_MAX; t++) {
        const uint32_t to = d[D_A_TOK + 2 * t], tl = d[D_A_TOK + 2 * t + 1];
        if (t >= ntok) {
          if (to || tl) return REMC_V_KEY;
          continue;
        }
        if (tl == 0 || to < from || to > e || tl > e - to) return REMC_V_KEY;
        from = to + tl + 1; /* tokens are separated by at least one space */
      }
    }

    prev_op = op, prev_s = s, prev_e = e, prev_fl = fl, prev_kend = ko + kl;
  }
  if (why == REMC_CLOSE_QUIT && (n == 0 || io->desc[(uint64_t)(n - 1) * REMC_DESC_WORDS + D_OP] !=
                                               REMC_OP_QUIT))
    return REMC_V_QUIT;

  if (resume) {
    /* the cut multiget is the last command: its last key lacks LAST_KEY and the next key lies
     * after it on the same line */
    const uint32_t *d = io->desc + (uint64_t)(n - 1) * REMC_DESC_WORDS;
    if (!((1ull << d[D_OP]) & M_GET) || d[D_ERR] || (d[D_FLAGS] & REMC_DF_LAST_KEY) ||
        d[D_START] != consumed || resume <= d[D_KEY_OFF] + d[D_KEY_LEN] || resume >= d[D_END])
      return REMC_V_RESUME;
  }
  return REMC_V_OK;
}
