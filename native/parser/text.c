/*
 * text.c — memcached 1.6.18's text protocol, parsed into descriptors (remc_abi.h).
 *
 * Runs inside the isolation domain. In pku-strict mode the CPU lets it touch nothing but the
 * window, io, its stack and the scratch heap: no .rodata, no GOT, no TLS canary. Hence: no libc,
 * no string literals (command names are compared as packed integer immediates), no switch that
 * could become a jump table, no globals, no local arrays or address-taken locals (they would
 * make -fstack-protector-strong read the canary). scripts/check-parser-freestanding.sh checks
 * the built objects.
 *
 * Behaviour is memcached 1.6.18 as it answers on the wire (proto_text.c:
 * try_read_command_ascii, tokenize_command, process_command_ascii and the process_* functions),
 * checked against the real server; the quirks that change replies are kept and marked QUIRK.
 */
#include "remc_abi.h"
#include "desc.h"

#if defined(__has_include)
#if __has_include("remc_fault_inject.h")
#include "remc_fault_inject.h"
#define REMC_HAVE_FAULT_INJECT_H 1
#endif
#endif
/* Owned by the isolation engineer (native/parser/fault_inject.c; its header may not exist yet).
 * Hidden, so that the call is direct: with -fno-plt a default-visibility callee is called
 * through the GOT, which pku-strict forbids reading. */
__attribute__((visibility("hidden"))) void remc_fault_inject(remc_parse_io *io, uint32_t kind);


#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "command names are compared as little-endian packed words"
#endif

#define AI static inline __attribute__((always_inline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef uint64_t __attribute__((may_alias, aligned(1))) u64_ua;

/* A name as a little-endian word, from char immediates (never a string in .rodata). */
#define PK1(a) ((uint64_t)(uint8_t)(a))
#define PK2(a, b) (PK1(a) | PK1(b) << 8)
#define PK3(a, b, c) (PK2(a, b) | PK1(c) << 16)
#define PK4(a, b, c, d) (PK3(a, b, c) | PK1(d) << 24)
#define PK5(a, b, c, d, e) (PK4(a, b, c, d) | PK1(e) << 32)
#define PK6(a, b, c, d, e, f) (PK5(a, b, c, d, e) | PK1(f) << 40)
#define PK7(a, b, c, d, e, f, g) (PK6(a, b, c, d, e, f) | PK1(g) << 48)
#define PK8(a, b, c, d, e, f, g, h) (PK7(a, b, c, d, e, f, g) | PK1(h) << 56)

/* Window bytes [p, p+n) as a little-endian word, n <= 8, zero-padded. p + n <= len. */
AI uint64_t ld(const uint8_t *w, uint32_t p, uint32_t n, uint32_t len) {
  if (LIKELY(len - p >= 8)) {
    uint64_t v = *(const u64_ua *)(w + p);
    return n >= 8 ? v : v & ((1ull << (n * 8)) - 1);
  }
  uint64_t v = 0;
  for (uint32_t i = 0; i < n; i++) v |= (uint64_t)w[p + i] << (8 * i);
  return v;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define ZBYTES(v) (((v) - ONES) & ~(v)&HIGHS) /* lowest set bit = first zero byte */

/* First offset in [p, e) holding '\n' or NUL, else e. */
AI uint32_t find_nl_or_nul(const uint8_t *w, uint32_t p, uint32_t e) {
  while (e - p >= 8) {
    uint64_t v = *(const u64_ua *)(w + p), x = v ^ (ONES * '\n');
    uint64_t m = ZBYTES(v) | ZBYTES(x);
    if (m) return p + ((uint32_t)__builtin_ctzll(m) >> 3);
    p += 8;
  }
  while (p < e && w[p] != '\n' && w[p] != 0) p++;
  return p;
}

/* First offset in [p, e) holding '\n', else e. */
AI uint32_t find_nl(const uint8_t *w, uint32_t p, uint32_t e) {
  while (e - p >= 8) {
    uint64_t x = *(const u64_ua *)(w + p) ^ (ONES * '\n');
    uint64_t m = ZBYTES(x);
    if (m) return p + ((uint32_t)__builtin_ctzll(m) >> 3);
    p += 8;
  }
  while (p < e && w[p] != '\n') p++;
  return p;
}

/* memcached splits on ' ' only: TAB, CR, VT, FF are token bytes. */
AI uint32_t skip_sp(const uint8_t *w, uint32_t p, uint32_t e) {
  while (p < e && w[p] == ' ') p++;
  return p;
}
AI uint32_t tok_end(const uint8_t *w, uint32_t p, uint32_t e) {
  while (p < e && w[p] != ' ') p++;
  return p;
}
/* A multiget key also ends at a NUL (the line's C-string end): a resumed call finds the NUL as it
 * goes instead of searching the whole line first. */
AI uint32_t key_end(const uint8_t *w, uint32_t p, uint32_t e) {
  while (p < e && w[p] != ' ' && w[p] != 0) p++;
  return p;
}

/* isspace() in the C locale (memcached never calls setlocale). */
AI int is_space(uint8_t c) { return c == ' ' || (uint8_t)(c - 9) < 5; }

/*
 * Numbers, exactly as memcached's safe_strtoul/safe_strtol/safe_strtoull/safe_strtoll (util.c)
 * over a token [s, e) (memcached's tokens end in NUL): glibc strto(u)l in the C locale (leading
 * isspace skipped, one optional '+' or '-', decimal digits; ERANGE or no digit -> fail), then the
 * byte after the digits must be the token end or isspace (QUIRK: "5\tjunk" is 5; "\t5" is 5),
 * then for the unsigned ones: a result negative as signed fails if the token holds a '-'
 * anywhere (QUIRK: "-5" fails but "-18446744073709551611" is 5). The 32-bit variants return the
 * 64-bit result truncated (QUIRK: flags "4294967296" is 0, <bytes> "-4294967295" is 1; observed).
 */
typedef struct {
  uint64_t v;
  uint32_t ok;
} num_t;

AI num_t strto64(const uint8_t *w, uint32_t s, uint32_t e, int is_signed) {
  num_t r = {0, 0};
  uint32_t p = s, neg = 0, ovf = 0;
  uint64_t m = 0;
  while (p < e && is_space(w[p])) p++;
  if (p < e && (w[p] == '+' || w[p] == '-')) neg = w[p++] == '-';
  uint32_t d0 = p;
  for (; p < e && (uint8_t)(w[p] - '0') < 10; p++) {
    uint32_t d = (uint32_t)(w[p] - '0');
    if (m > 1844674407370955161ull || (m == 1844674407370955161ull && d > 5)) ovf = 1;
    else m = m * 10 + d;
  }
  if (p == d0 || ovf || (p < e && !is_space(w[p]))) return r;
  if (is_signed && m > (neg ? 0x8000000000000000ull : 0x7fffffffffffffffull)) return r;
  r.v = neg ? 0 - m : m;
  r.ok = 1;
  return r;
}

AI int has_minus(const uint8_t *w, uint32_t s, uint32_t e) {
  for (; s < e; s++)
    if (w[s] == '-') return 1;
  return 0;
}

AI num_t safe_strtoull(const uint8_t *w, uint32_t s, uint32_t e) {
  num_t r = strto64(w, s, e, 0);
  if (r.ok && (int64_t)r.v < 0 && has_minus(w, s, e)) r.ok = 0;
  return r;
}
AI num_t safe_strtoul(const uint8_t *w, uint32_t s, uint32_t e) {
  num_t r = safe_strtoull(w, s, e);
  r.v = (uint32_t)r.v;
  return r;
}
AI num_t safe_strtol(const uint8_t *w, uint32_t s, uint32_t e) { /* int32, sign-extended */
  num_t r = strto64(w, s, e, 1);
  r.v = (uint64_t)(int64_t)(int32_t)(uint32_t)r.v;
  return r;
}


/*
 * A line over REMC_LINE_MAX bytes without '\n' closes the connection unless it starts, after
 * at most 100 spaces, with "get " or "gets " (try_read_command_ascii: a large multiget).
 */
AI int long_get_line(const uint8_t *w, uint32_t pos, uint32_t len) {
  uint32_t p = pos;
  while (p < len && w[p] == ' ' && p - pos <= REMC_LINE_LEAD_SPACES_MAX) p++;
  if (p - pos > REMC_LINE_LEAD_SPACES_MAX) return 0;
  if (len - p >= 4 && ld(w, p, 4, len) == PK4('g', 'e', 't', ' ')) return 1;
  if (len - p >= 5 && ld(w, p, 5, len) == PK5('g', 'e', 't', 's', ' ')) return 1;
  return 0;
}

/* Which memcached branch a command name takes (process_command_ascii). Names memcached knows
 * but remcached does not implement answer ERROR, and, like every name dispatched by its first
 * letter, never get the HTTP check. */
#define KNOWN_UNIMPLEMENTED (REMC_OP_COUNT + 1)
_Static_assert(REMC_OP_MS == REMC_OP_MG + 1 && REMC_OP_MD == REMC_OP_MG + 2 &&
                   REMC_OP_MA == REMC_OP_MG + 3 && REMC_OP_MN == REMC_OP_MG + 4 &&
                   REMC_OP_ME == REMC_OP_MG + 5,
               "match_name's meta letter places follow REMC_META_COMMANDS");

AI uint32_t match_name(const uint8_t *w, uint32_t s, uint32_t n, uint32_t len, uint32_t opts,
                       int *http_check) {
  uint64_t a = ld(w, s, n < 8 ? n : 8, len);
  uint64_t b = n > 8 ? ld(w, s + 8, n - 8 < 8 ? n - 8 : 8, len) : 0;
  uint8_t c0 = (uint8_t)a;
  *http_check = 0;
  if (c0 == 'm' && n == 2) { /* meta commands (meta.c); other 2-byte 'm' names: ERROR */
    /* The second letter's 1-based place in MG MS MD MA MN ME, 3 bits per letter 'a'..'s' in an
     * immediate: an if-chain here becomes a lookup table in .rodata (gcc's switch conversion). */
#define ML(c, k) ((uint64_t)(k) << (3 * ((c) - 'a')))
    const uint64_t places = ML('g', 1) | ML('s', 2) | ML('d', 3) | ML('a', 4) | ML('n', 5) | ML('e', 6);
#undef ML
    uint32_t i = (uint32_t)(uint8_t)((uint8_t)(a >> 8) - 'a');
    uint32_t k = i < 19 ? (uint32_t)(places >> (3 * i)) & 7 : 0;
    return k ? REMC_OP_MG + k - 1 : KNOWN_UNIMPLEMENTED;
  }
  if (c0 == 'g') {
    if (n == 3 && a == PK3('g', 'e', 't')) return REMC_OP_GET;
    if (n == 4 && a == PK4('g', 'e', 't', 's')) return REMC_OP_GETS;
    if (n == 3 && a == PK3('g', 'a', 't')) return REMC_OP_GAT;
    if (n == 4 && a == PK4('g', 'a', 't', 's')) return REMC_OP_GATS;
    return REMC_OP_UNKNOWN;
  }
  if (c0 == 's') {
    if (n == 3 && a == PK3('s', 'e', 't')) return REMC_OP_SET;
    if (n == 5 && a == PK5('s', 't', 'a', 't', 's')) return REMC_OP_STATS;
    if (n == 8 && a == PK8('s', 'h', 'u', 't', 'd', 'o', 'w', 'n')) return REMC_OP_SHUTDOWN;
    if (n == 5 && a == PK5('s', 'l', 'a', 'b', 's')) return REMC_OP_SLABS;
    return REMC_OP_UNKNOWN;
  }
  if (c0 == 'a') {
    if (n == 3 && a == PK3('a', 'd', 'd')) return REMC_OP_ADD;
    if (n == 6 && a == PK6('a', 'p', 'p', 'e', 'n', 'd')) return REMC_OP_APPEND;
    return REMC_OP_UNKNOWN;
  }
  if (c0 == 'c') {
    if (n == 3 && a == PK3('c', 'a', 's')) return REMC_OP_CAS;
    if (n == 14 && a == PK8('c', 'a', 'c', 'h', 'e', '_', 'm', 'e') &&
        b == PK6('m', 'l', 'i', 'm', 'i', 't'))
      return REMC_OP_CACHE_MEMLIMIT;
    return REMC_OP_UNKNOWN;
  }
  if (c0 == 'i') return n == 4 && a == PK4('i', 'n', 'c', 'r') ? REMC_OP_INCR : REMC_OP_UNKNOWN;
  if (c0 == 'd') {
    if (n == 6 && a == PK6('d', 'e', 'l', 'e', 't', 'e')) return REMC_OP_DELETE;
    if (n == 4 && a == PK4('d', 'e', 'c', 'r')) return REMC_OP_DECR;
    if ((opts & REMC_IN_DEBUGTIME) && n == 9 && a == PK8('d', 'e', 'b', 'u', 'g', 't', 'i', 'm') &&
        b == PK1('e'))
      return REMC_OP_DEBUGTIME;
    if ((opts & REMC_IN_FAULT_INJECTION) && n == 11 &&
        a == PK8('d', 'e', 'b', 'u', 'g', '_', 'f', 'a') && b == PK3('u', 'l', 't'))
      return REMC_OP_DEBUG_FAULT;
    return REMC_OP_UNKNOWN;
  }
  if (c0 == 't') return n == 5 && a == PK5('t', 'o', 'u', 'c', 'h') ? REMC_OP_TOUCH : REMC_OP_UNKNOWN;
  if (n == 7 && a == PK7('r', 'e', 'p', 'l', 'a', 'c', 'e')) return REMC_OP_REPLACE;
  if (n == 7 && a == PK7('p', 'r', 'e', 'p', 'e', 'n', 'd')) return REMC_OP_PREPEND;
  if (n == 4 && a == PK4('b', 'g', 'e', 't')) return REMC_OP_GET; /* ancient alias */
  if (n == 9 && a == PK8('f', 'l', 'u', 's', 'h', '_', 'a', 'l') && b == PK1('l'))
    return REMC_OP_FLUSH_ALL;
  if (n == 7 && a == PK7('v', 'e', 'r', 's', 'i', 'o', 'n')) return REMC_OP_VERSION;
  if (n == 4 && a == PK4('q', 'u', 'i', 't')) return REMC_OP_QUIT;
  if (n == 9 && a == PK8('v', 'e', 'r', 'b', 'o', 's', 'i', 't') && b == PK1('y'))
    return REMC_OP_VERBOSITY;
  /* admin commands (dispatched by name in memcached: no HTTP check either) */
  if (n == 11 && a == PK8('l', 'r', 'u', '_', 'c', 'r', 'a', 'w') && b == PK3('l', 'e', 'r'))
    return REMC_OP_LRU_CRAWLER;
  if (n == 3 && a == PK3('l', 'r', 'u')) return REMC_OP_LRU;
  if (n == 5 && a == PK5('w', 'a', 't', 'c', 'h')) return REMC_OP_WATCH;
  if (n == 8 && a == PK8('e', 'x', 't', 's', 't', 'o', 'r', 'e')) return REMC_OP_EXTSTORE;
  if (n == 13 && a == PK8('r', 'e', 'f', 'r', 'e', 's', 'h', '_') && b == PK5('c', 'e', 'r', 't', 's'))
    return REMC_OP_REFRESH_CERTS;
  *http_check = 1;
  return REMC_OP_UNKNOWN;
}

/* Admin commands: the offsets and lengths of the first REMC_ADMIN_TOKENS_MAX argument tokens
 * of the line [p, le) (p just past the command name) into words D_A_TOK.., unused pairs 0. */
AI void admin_tokens(const uint8_t *w, uint32_t p, uint32_t le, uint32_t *d) {
  uint32_t i = 0;
  for (p = skip_sp(w, p, le); p < le && i < REMC_ADMIN_TOKENS_MAX; i++) {
    uint32_t q = tok_end(w, p, le);
    d[D_A_TOK + 2 * i] = p;
    d[D_A_TOK + 2 * i + 1] = q - p;
    p = skip_sp(w, q, le);
  }
  for (; i < REMC_ADMIN_TOKENS_MAX; i++) d[D_A_TOK + 2 * i] = d[D_A_TOK + 2 * i + 1] = 0;
}

/* The meta commands: meta.c is part of this translation unit (see there why). */
#define REMC_TEXT_C 1
#include "meta.c"

AI int is_storage(uint32_t op) {
  return op == REMC_OP_SET || op == REMC_OP_ADD || op == REMC_OP_REPLACE || op == REMC_OP_APPEND ||
         op == REMC_OP_PREPEND || op == REMC_OP_CAS;
}

/* The binary protocol (native/parser/binary.c); hidden: a direct call, no GOT. */
__attribute__((visibility("hidden"))) void remc_parse_binary(remc_parse_io *io, const uint8_t *w);

void remc_parse(remc_parse_io *io, const uint8_t *w) {
  if (io->opts & REMC_IN_BINARY) {
    remc_parse_binary(io, w);
    return;
  }
  const uint32_t len = io->len, cap = io->desc_cap, opts = io->opts;
  uint32_t pos = io->start, nd = 0, resume = io->resume_off, resumed = 0;
  uint32_t status = REMC_PS_OK, why = REMC_CLOSE_NONE, out_resume = 0;
  uint32_t *const desc = io->desc;
  if (pos > len) pos = len; /* a root bug; parse nothing rather than read past the window */

  while (pos < len) {
    REMC_LOOP_TICK();
    /* The line: up to '\n'. memcached strips one '\r' before it (only when the line has more
     * than that '\r'), then treats it as a C string: it ends at the first NUL (QUIRK:
     * "version\0junk" is version). D_END is always past the '\n'. */
    uint32_t z, nl;
    const uint32_t hint = io->resume_end;
    resumed = 0;
    if (UNLIKELY(resume) && pos == io->start && resume > pos && hint > resume && hint <= len &&
        w[hint - 1] == '\n' && w[resume - 1] == ' ' && w[resume] != ' ') {
      /* a cut multiget: root says where its line ends; no NUL precedes the resume point (the
       * call that cut it stopped its keys at the first one) and the key loop stops at any
       * later NUL */
      z = nl = hint - 1;
      resumed = 1;
    } else {
      z = find_nl_or_nul(w, pos, len), nl = z;
      if (z < len && w[z] == 0) nl = find_nl(w, z + 1, len);
    }
    if (nl >= len) {
      if (UNLIKELY(len - pos > REMC_LINE_MAX) && !long_get_line(w, pos, len)) {
        status = REMC_PS_CLOSE;
        why = REMC_CLOSE_LINE_TOO_LONG;
      }
      break;
    }
    if (UNLIKELY(nd >= cap)) {
      status = REMC_PS_FULL;
      break;
    }
    /* memcached reads 16 KiB at a time: a non-get line whose '\n' is not within that closes the
     * connection (the >2048-without-'\n' rule, seen on its first read) even when the '\n'
     * arrived in the same write. */
    if (UNLIKELY(nl - pos >= REMC_READ_BUFFER) && !resumed && !long_get_line(w, pos, len)) {
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_LINE_TOO_LONG;
      break;
    }
    const uint32_t eol = nl + 1;
    uint32_t le = nl;
    if (nl - pos > 1 && w[nl - 1] == '\r') le = nl - 1;
    if (z < le) le = z;

    uint32_t *d = desc + (uint64_t)nd * REMC_DESC_WORDS;
    uint32_t c0 = skip_sp(w, pos, le), c1 = tok_end(w, c0, le);
    int http_check = 0;
    /* No token, or a one-byte command: ERROR (no valid command is shorter than two bytes). */
    uint32_t op = c1 - c0 < 2 ? REMC_OP_UNKNOWN
                              : match_name(w, c0, c1 - c0, len, opts, &http_check);

    /* ---- meta commands: one descriptor per line (meta.c) */
    if (op >= REMC_OP_MG && op <= REMC_OP_ME) {
      uint32_t next = meta_line(w, len, op, pos, c1, le, eol, d);
      nd++;
      resume = 0;
      if (next > len) break; /* ms waiting for its data block: the call's last descriptor */
      pos = next;
      continue;
    }

    /* ---- get family: one descriptor per key, streamed; may be cut by a full descriptor area */
    if (op == REMC_OP_GET || op == REMC_OP_GETS || op == REMC_OP_GAT || op == REMC_OP_GATS) {
      uint32_t k = skip_sp(w, c1, le);
      uint64_t exptime = 0;
      if (k == le) goto unknown; /* "get" alone */
      if (op == REMC_OP_GAT || op == REMC_OP_GATS) {
        uint32_t ke = tok_end(w, k, le);
        num_t t = safe_strtol(w, k, ke);
        if (!t.ok) {
          emit(d, op, REMC_PERR_INVALID_EXPTIME, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, 0);
          nd++;
          pos = eol;
          resume = 0;
          continue;
        }
        exptime = t.v;
        k = skip_sp(w, ke, le);
      }
      /* Continue a multiget cut by REMC_PS_FULL: only at a token start inside this line. The
       * keys before it were checked by the call that cut it, so the check below starts there
       * too (a long multiget costs linear time, not quadratic). */
      if (resume && pos == io->start && resume > k && resume < le && w[resume - 1] == ' ' &&
          w[resume] != ' ')
        k = resume;
      else
        resumed = 0;
      resume = 0;
      /* A key over 250 bytes anywhere: the whole command is that error, even after hits
       * (observed: "set a..; get a <251 x a>" answers only CLIENT_ERROR). No token can be that
       * long when the whole rest is not. */
      if (UNLIKELY(le - k > REMC_KEY_MAX) && !resumed) {
        uint32_t p = k, bad = 0;
        while (p < le) {
          uint32_t q = tok_end(w, p, le);
          if (q - p > REMC_KEY_MAX) {
            bad = 1;
            break;
          }
          p = skip_sp(w, q, le);
        }
        if (bad) {
          emit(d, op, REMC_PERR_KEY_TOO_LONG, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, 0);
          nd++;
          pos = eol;
          continue;
        }
      }
      if (k == le) { /* "gat <exptime>" without keys: just END */
        emit(d, op, 0, REMC_DF_LAST_KEY, pos, eol, 0, 0, 0, 0, 0, exptime, 0, 0);
        nd++;
        pos = eol;
        continue;
      }
      for (;;) {
        REMC_LOOP_TICK();
        uint32_t ke = key_end(w, k, le), nx = skip_sp(w, ke, le);
        uint32_t end = nx == le || w[nx] == 0;
        emit(d, op, 0, end ? REMC_DF_LAST_KEY : 0, pos, eol, k, ke - k, 0, 0, 0, exptime, 0, 0);
        nd++;
        d += REMC_DESC_WORDS;
        k = nx;
        if (end) break;
        if (UNLIKELY(nd >= cap)) {
          status = REMC_PS_FULL;
          out_resume = k;
          goto done;
        }
      }
      pos = eol;
      continue;
    }
    resume = 0;

    /* ---- every other command: collect the first tokens like tokenize_command does. nt counts
     * tokens (command included) up to 24; [ls, lz) is memcached's tokens[ntokens - 2], i.e. the
     * last token among the first 23: where it looks for "noreply" and "HTTP/". */
    uint32_t nt = 1, ls = c0, lz = c1;
    uint32_t a1 = 0, z1 = 0, a2 = 0, z2 = 0, a3 = 0, z3 = 0, a4 = 0, z4 = 0, a5 = 0, z5 = 0;
    for (uint32_t p = skip_sp(w, c1, le); p < le;) {
      uint32_t q = tok_end(w, p, le);
      nt++;
      if (nt == 2) a1 = p, z1 = q;
      else if (nt == 3) a2 = p, z2 = q;
      else if (nt == 4) a3 = p, z3 = q;
      else if (nt == 5) a4 = p, z4 = q;
      else if (nt == 6) a5 = p, z5 = q;
      if (nt <= REMC_TOKENS_MAX - 1) ls = p, lz = q;
      if (nt == REMC_TOKENS_MAX) break;
      p = skip_sp(w, q, le);
    }
    const uint32_t noreply =
        lz - ls == 7 && ld(w, ls, 7, len) == PK7('n', 'o', 'r', 'e', 'p', 'l', 'y') ? REMC_DF_NOREPLY
                                                                                    : 0;
    uint32_t err = REMC_PERR_NONE, flags = 0, koff = 0, klen = 0, doff = 0, dlen = 0;
    uint64_t n0 = 0, n1 = 0, n2 = 0;
    num_t t;

    if (is_storage(op)) {
      /* <cmd> <key> <flags> <exptime> <bytes> [noreply]; cas adds <cas unique>. QUIRK: noreply
       * is whatever the last token is: "set k 0 0 noreply" is a silent bad format. */
      uint32_t base = op == REMC_OP_CAS ? 6 : 5;
      if (nt != base && nt != base + 1) goto unknown;
      flags = noreply;
      if (z1 - a1 > REMC_KEY_MAX) {
        err = REMC_PERR_KEY_TOO_LONG;
      } else {
        num_t f = safe_strtoul(w, a2, z2), x = safe_strtol(w, a3, z3), b = safe_strtol(w, a4, z4);
        num_t c = {0, 1};
        if (op == REMC_OP_CAS) c = safe_strtoull(w, a5, z5);
        /* <bytes> < 0 or > INT_MAX - 2 (as int32): bad format, and no data block is swallowed */
        if (!f.ok || !x.ok || !b.ok || !c.ok || (int64_t)b.v < 0 || b.v > REMC_VALUE_LEN_MAX) {
          err = REMC_PERR_BAD_FORMAT;
        } else {
          uint64_t dend = (uint64_t)eol + b.v + 2;
          koff = a1, klen = z1 - a1, doff = eol, dlen = (uint32_t)b.v;
          n0 = f.v, n1 = x.v, n2 = c.v;
          if (dend > len) { /* wait for the data block; root may swallow it instead */
            emit(d, op, 0, flags | REMC_DF_DATA_INCOMPLETE, pos, (uint32_t)dend, koff, klen, doff,
                 dlen, n0, n1, n2, nt);
            nd++;
            break;
          }
          /* The block is exactly <bytes> + 2 bytes, whatever they are; if they do not end in
           * "\r\n" it is a bad data chunk and parsing resumes after them (observed:
           * "set k 0 0 3\r\nabcd\r\n" -> bad data chunk, then "\n" is an empty command). */
          if (w[dend - 2] != '\r' || w[dend - 1] != '\n') err = REMC_PERR_BAD_DATA_CHUNK;
          emit(d, op, err, flags, pos, (uint32_t)dend, koff, klen, doff, dlen, n0, n1, n2, nt);
          nd++;
          pos = (uint32_t)dend;
          continue;
        }
      }
    } else if (op == REMC_OP_DELETE) {
      /* delete <key> [0] [noreply]: the legacy "0" must be exactly "0" (QUIRK: the usage error
       * itself is silenced by a trailing noreply). */
      if (nt < 2 || nt > 4) goto unknown;
      if (nt > 2) {
        uint32_t zero = z2 - a2 == 1 && w[a2] == '0';
        flags = noreply | (zero ? REMC_DF_HAS_ARG : 0);
        if (!((nt == 3 && (zero || noreply)) || (nt == 4 && zero && noreply)))
          err = REMC_PERR_DELETE_USAGE;
      }
      if (!err) {
        if (z1 - a1 > REMC_KEY_MAX) err = REMC_PERR_KEY_TOO_LONG;
        else koff = a1, klen = z1 - a1;
      }
    } else if (op == REMC_OP_INCR || op == REMC_OP_DECR || op == REMC_OP_TOUCH) {
      if (nt != 3 && nt != 4) goto unknown;
      flags = noreply;
      if (z1 - a1 > REMC_KEY_MAX) {
        err = REMC_PERR_KEY_TOO_LONG;
      } else if (op == REMC_OP_TOUCH) {
        t = safe_strtol(w, a2, z2);
        if (!t.ok) err = REMC_PERR_INVALID_EXPTIME;
        else koff = a1, klen = z1 - a1, n1 = t.v;
      } else {
        t = safe_strtoull(w, a2, z2);
        if (!t.ok) err = REMC_PERR_INVALID_DELTA;
        else koff = a1, klen = z1 - a1, n0 = t.v;
      }
    } else if (op == REMC_OP_VERBOSITY || op == REMC_OP_CACHE_MEMLIMIT) {
      if (nt != 2 && nt != 3) goto unknown;
      flags = noreply;
      t = safe_strtoul(w, a1, z1);
      if (!t.ok) err = op == REMC_OP_VERBOSITY ? REMC_PERR_BAD_FORMAT : REMC_PERR_ERROR;
      else n0 = t.v;
    } else if (op == REMC_OP_FLUSH_ALL) {
      /* flush_all [delay] [noreply]; QUIRK: a delay is parsed whenever the count is not exactly
       * "flush_all" or "flush_all noreply", so "flush_all noreply 5" is an invalid exptime and
       * "flush_all 5 junk" is OK; a negative delay is OK. */
      if (nt > 3) goto unknown;
      flags = noreply;
      if (nt != (noreply ? 2u : 1u)) {
        t = safe_strtol(w, a1, z1);
        if (!t.ok) err = REMC_PERR_INVALID_EXPTIME;
        else flags |= REMC_DF_HAS_ARG, n1 = t.v;
      }
    } else if (op == REMC_OP_STATS) {
      if (nt >= 2) koff = a1, klen = z1 - a1;
      if (nt >= 3) doff = a2, dlen = z2 - a2;
      if (nt >= 4) {
        num_t x = safe_strtoul(w, a2, z2), y = safe_strtoul(w, a3, z3);
        if (x.ok && y.ok) flags = REMC_DF_HAS_ARG, n0 = x.v, n1 = y.v;
      }
    } else if (op == REMC_OP_SHUTDOWN) {
      if (nt >= 2) koff = a1, klen = z1 - a1;
    } else if (op >= REMC_OP_SLABS && op <= REMC_OP_REFRESH_CERTS) {
      /* admin commands: the tokens go to root, which applies memcached's argument rules */
      flags = noreply;
      admin_tokens(w, c1, le, d);
    } else if (op == REMC_OP_VERSION) {
      /* extra arguments ignored (1.6) */
    } else if (op == REMC_OP_QUIT) {
      emit(d, op, 0, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, nt);
      nd++;
      pos = eol;
      status = REMC_PS_CLOSE;
      why = REMC_CLOSE_QUIT;
      break;
    } else if (op == REMC_OP_DEBUGTIME) {
      if (nt < 2) goto unknown;
      koff = a1, klen = z1 - a1;
      if (!(klen == 1 && (w[a1] == 'p' || w[a1] == 'r'))) {
        t = strto64(w, a1, z1, 1);
        if (!t.ok) err = REMC_PERR_ERROR;
        else flags = REMC_DF_HAS_ARG, n0 = t.v;
      }
    } else if (op == REMC_OP_DEBUG_FAULT) {
      if (nt != 2) goto unknown;
      t = safe_strtoul(w, a1, z1);
      if (!t.ok) {
        err = REMC_PERR_BAD_FORMAT;
      } else {
        n0 = t.v;
        /* The fault happens here, inside the domain, as a real parser bug would. */
        remc_fault_inject(io, (uint32_t)t.v);
      }
    } else {
      /* QUIRK: an unknown name whose last token (of the first 23) starts with "HTTP/" closes the
       * connection silently, but only for names not dispatched by their first letter
       * ("GET / HTTP/1.1" closes, "get / HTTP/1.1" is a get, "gx HTTP/1.1" is ERROR). */
      if (http_check && lz - ls >= 5 && ld(w, ls, 5, len) == PK5('H', 'T', 'T', 'P', '/')) {
        pos = eol;
        status = REMC_PS_CLOSE;
        why = REMC_CLOSE_HTTP;
        break;
      }
      goto unknown;
    }
    if (err) flags &= REMC_DF_NOREPLY, koff = klen = doff = dlen = 0, n0 = n1 = n2 = 0;
    emit(d, op, err, flags, pos, eol, koff, klen, doff, dlen, n0, n1, n2, nt);
    nd++;
    pos = eol;
    continue;

  unknown:
    resume = 0;
    emit(d, REMC_OP_UNKNOWN, REMC_PERR_ERROR, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, 0);
    nd++;
    pos = eol;
  }
done:
  io->status = status;
  io->consumed = pos;
  io->ndesc = nd;
  io->out_resume_off = out_resume;
  io->heap_used = 0;
  io->close_reason = why;
}
