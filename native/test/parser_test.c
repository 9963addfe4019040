// sources: native/parser/[!f]*.c native/binding/validate*.c
/*
 * parser_test.c — the text parser against memcached 1.6.18's behaviour, table-driven.
 *
 * Each case is input bytes -> the descriptors rendered as text, the status and `consumed`.
 * Expectations come from the real server (memcached -p 22122 -U 0, python sockets; the replies
 * are in the comments) and from proto_text.c. Then: every pipeline is re-fed split at every byte
 * and with tiny descriptor areas, as the server would, and must give the same descriptors;
 * hostile inputs must validate and never read outside the window (run with SAN=1).
 *
 * Sources: every parser file but fault_inject.c (the "[!f]*" glob: debug_fault calls the stub
 * below, which records the kind), and the validators.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remc_abi.h"

static uint32_t g_fault_calls, g_fault_kind;
void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  g_fault_calls++;
  g_fault_kind = kind;
}

static const char *const op_names[] = {"NONE", "UNKNOWN",
#define X(id, name) #id,
                                       REMC_TEXT_COMMANDS(X)
#undef X
};
static const char *const err_names[] = {
#define X(id) #id,
    REMC_PARSE_ERRORS(X)
#undef X
};
static const char *const close_names[] = {
#define X(id) #id,
    REMC_CLOSE_REASONS(X)
#undef X
};
static const char *const text_names[] = {
#define X(id, name) name,
    REMC_TEXT_COMMANDS(X)
#undef X
};

static int failures, checks;
#define CHECK(cond, ...)                                  \
  do {                                                    \
    checks++;                                             \
    if (!(cond)) {                                        \
      failures++;                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                       \
      fputc('\n', stderr);                                \
    }                                                     \
  } while (0)

/* ---- rendering ------------------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t n, cap;
} sbuf;
static void sb_put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void sb_put(sbuf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k >= 0 && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    b->cap = b->cap * 2 + (size_t)k + 64;
    b->p = realloc(b->p, b->cap);
  }
}
static void sb_bytes(sbuf *b, const uint8_t *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (c == '\r') sb_put(b, "\\r");
    else if (c == '\n') sb_put(b, "\\n");
    else if (c == '\t') sb_put(b, "\\t");
    else if (c < 32 || c >= 127 || c == '|') sb_put(b, "\\x%02x", c);
    else sb_put(b, "%c", c);
  }
}

static uint64_t n64(const uint32_t *d, int lo) { return (uint64_t)d[lo] | (uint64_t)d[lo + 1] << 32; }

/* One descriptor as text: "OP[:ERR][ nr][ last][ arg][ inc] [k=key] [d=data|d=+len] [n0=] [n1=] [n2=] [aux=]".
 * `base` maps window offsets to stream offsets; `spans` adds [start,end). */
static void render_desc(sbuf *b, const uint32_t *d, const uint8_t *w, uint32_t len, int spans,
                        uint64_t base) {
  uint32_t op = d[D_OP], fl = d[D_FLAGS];
  (void)len;
  sb_put(b, "%s", op < REMC_OP_COUNT ? op_names[op] : "?");
  if (d[D_ERR]) sb_put(b, ":%s", d[D_ERR] < REMC_PERR_COUNT ? err_names[d[D_ERR]] : "?");
  if (fl & REMC_DF_NOREPLY) sb_put(b, " nr");
  if (fl & REMC_DF_LAST_KEY) sb_put(b, " last");
  if (fl & REMC_DF_HAS_ARG) sb_put(b, " arg");
  if (fl & REMC_DF_DATA_INCOMPLETE) sb_put(b, " inc");
  if (d[D_KEY_LEN]) {
    sb_put(b, " k=");
    sb_bytes(b, w + d[D_KEY_OFF], d[D_KEY_LEN]);
  }
  int storage = op >= REMC_OP_SET && op <= REMC_OP_CAS;
  if (d[D_DATA_LEN] || (storage && d[D_DATA_OFF])) {
    if (!(fl & REMC_DF_DATA_INCOMPLETE)) {
      sb_put(b, " d=");
      sb_bytes(b, w + d[D_DATA_OFF], d[D_DATA_LEN]);
    } else {
      sb_put(b, " d=+%u", d[D_DATA_LEN]);
    }
  }
  if (n64(d, D_N0_LO)) sb_put(b, " n0=%llu", (unsigned long long)n64(d, D_N0_LO));
  if (n64(d, D_N1_LO)) sb_put(b, " n1=%lld", (long long)n64(d, D_N1_LO));
  if (n64(d, D_N2_LO)) sb_put(b, " n2=%llu", (unsigned long long)n64(d, D_N2_LO));
  if (d[D_AUX]) sb_put(b, " aux=%u", d[D_AUX]);
  if (spans)
    sb_put(b, " [%llu,%llu)", (unsigned long long)(base + d[D_START]),
           (unsigned long long)(base + d[D_END]));
}

/* ---- running the parser ---------------------------------------------------------------- */

#define DESC_CAP_MAX 256
static remc_parse_io *g_io;

static void init_io(void) {
  g_io = calloc(1, sizeof(remc_parse_io) + (size_t)DESC_CAP_MAX * REMC_DESC_WORDS * 4);
}

/* One call over w[0..len) from start; validates; returns the validator's code. */
static uint32_t g_resume_end; /* the hint for the next parse_once (0: none) */
static int parse_once(const uint8_t *w, uint32_t len, uint32_t start, uint32_t resume,
                      uint32_t opts, uint32_t cap) {
  remc_parse_req req = {.len = len, .start = start, .resume_off = resume, .opts = opts,
                        .desc_cap = cap, .resume_end = g_resume_end, .heap_size = 4096};
  g_resume_end = 0;
  memset(g_io, 0xa5, sizeof(remc_parse_io)); /* out-fields must all be written */
  remc_parse_io_prepare(g_io, &req, 0);
  remc_parse(g_io, w);
  return remc_validate(g_io, &req, len + 16);
}

/* Parse a whole input in one window (looping over FULL like the server), rendered. */
static char *run_whole(const uint8_t *in, uint32_t len, uint32_t opts, uint32_t cap, int spans) {
  sbuf b = {0};
  sb_put(&b, "%s", "");
  uint8_t *w = malloc(len ? len : 1); /* exact size: ASan catches any read past len */
  memcpy(w, in, len);
  uint32_t start = 0, resume = 0;
  for (int guard = 0;; guard++) {
    int v = parse_once(w, len, start, resume, opts, cap);
    CHECK(v == 0, "validate=%d on input '%.*s'", v, (int)(len < 80 ? len : 80), (const char *)in);
    for (uint32_t i = 0; i < g_io->ndesc; i++) {
      const uint32_t *d = g_io->desc + (size_t)i * REMC_DESC_WORDS;
      /* with spans (split comparison), a data block still to come is not a result yet */
      if (spans && (d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE)) continue;
      if (b.n) sb_put(&b, " | ");
      render_desc(&b, d, w, len, spans, 0);
    }
    if (g_io->status == REMC_PS_FULL && guard < 100000) {
      CHECK(g_io->ndesc > 0, "FULL without progress");
      start = g_io->consumed;
      resume = g_io->out_resume_off;
      continue;
    }
    if (g_io->status == REMC_PS_CLOSE)
      sb_put(&b, "%sCLOSE:%s %u", b.n ? " => " : "=> ", close_names[g_io->close_reason],
             g_io->consumed);
    else
      sb_put(&b, "%sOK %u", b.n ? " => " : "=> ", g_io->consumed);
    break;
  }
  free(w);
  return b.p;
}

/* ---- the table ------------------------------------------------------------------------- */

typedef struct {
  const char *in;
  size_t len; /* 0: strlen */
  uint32_t opts;
  const char *want;
} tcase;

#define T(in, want) {in, sizeof(in) - 1, 0, want}
#define TO(in, opts, want) {in, sizeof(in) - 1, opts, want}
#define ALL_OPTS (REMC_IN_FAULT_INJECTION | REMC_IN_DEBUGTIME)

#define K10 "kkkkkkkkkk"
#define K50 K10 K10 K10 K10 K10
#define K250 K50 K50 K50 K50 K50
#define K251 K250 "k"

static const tcase cases[] = {
    /* framing: CRLF or bare LF; one CR stripped; a line is a C string (ends at NUL) */
    T("version\r\n", "VERSION aux=1 => OK 9"),
    T("version\n", "VERSION aux=1 => OK 8"),               /* VERSION 1.6.18 */
    T("version\r\r\n", "UNKNOWN:ERROR => OK 10"),         /* "version\r" is not a name: ERROR */
    T("version \r\n", "VERSION aux=1 => OK 10"),
    T("  version\r\n", "VERSION aux=1 => OK 11"),
    T("version\0junk\r\n", "VERSION aux=1 => OK 14"),     /* VERSION 1.6.18 */
    T("ver\0sion\r\n", "UNKNOWN:ERROR => OK 10"),         /* "ver": ERROR */
    T("version foo bar\r\n", "VERSION aux=3 => OK 17"),
    T("version noreply\r\n", "VERSION aux=2 => OK 17"),
    T("versi", "=> OK 0"),                                 /* incomplete: wait */
    T("version\r", "=> OK 0"),
    T("get k\r", "=> OK 0"),
    T("", "=> OK 0"),
    /* empty, blank, short, unknown, case */
    T("\r\n", "UNKNOWN:ERROR => OK 2"),
    T("\n", "UNKNOWN:ERROR => OK 1"),
    T(" \r\n", "UNKNOWN:ERROR => OK 3"),
    T("   \n", "UNKNOWN:ERROR => OK 4"),
    T("\0\r\n", "UNKNOWN:ERROR => OK 3"),
    T("x\r\n", "UNKNOWN:ERROR => OK 3"),
    T("bogus\r\n", "UNKNOWN:ERROR => OK 7"),
    T("GET foo\r\n", "UNKNOWN:ERROR => OK 9"),
    T("get\tk\r\n", "UNKNOWN:ERROR => OK 7"),             /* TAB is part of the token */
    T("mx\r\n", "UNKNOWN:ERROR => OK 4"),                 /* two-letter m*: meta or ERROR */
    T("slabs reassign 1 2\r\n", "SLABS aux=4 => OK 20"),    /* admin: tokens for protocol/admin.ts */
    /* HTTP guard: only names not dispatched by their first letter; last of the first 23 tokens */
    T("GET / HTTP/1.1\r\n", "=> CLOSE:HTTP 16"),          /* EOF, no bytes */
    T("HTTP/1.1\r\n", "=> CLOSE:HTTP 10"),
    T("GET / HTTP/1.1 \r\n", "=> CLOSE:HTTP 17"),
    T("foo HTTP/\r\n", "=> CLOSE:HTTP 11"),
    T("GET / HTTP/1.1 x\r\n", "UNKNOWN:ERROR => OK 18"),
    T("foo HTTPS\r\n", "UNKNOWN:ERROR => OK 11"),
    T("x HTTP/1.1\r\n", "UNKNOWN:ERROR => OK 12"),        /* one-byte command: ERROR first */
    T("gx HTTP/1.1\r\n", "UNKNOWN:ERROR => OK 13"),
    T("sx HTTP/1.1\r\n", "UNKNOWN:ERROR => OK 13"),
    T("lru_crawler x HTTP/1.1\r\n", "LRU_CRAWLER aux=3 => OK 24"),
    T("watch HTTP/1.1\r\n", "WATCH aux=2 => OK 16"),
    T("misbehave HTTP/1.1\r\n", "=> CLOSE:HTTP 20"),      /* debug builds only: unknown here */
    T("mgx HTTP/1.1\r\n", "=> CLOSE:HTTP 14"),
    T("GET k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 HTTP/1.1 x\r\n",
      "=> CLOSE:HTTP 90"),                                 /* HTTP/ is the 23rd token */
    T("GET k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 k21 HTTP/1.1\r\n",
      "UNKNOWN:ERROR => OK 92"),                           /* 24th: ERROR */
    T("version\r\nGET / HTTP/1.1\r\nversion\r\n", "VERSION aux=1 => CLOSE:HTTP 25"),
    /* line limit: > 2048 bytes without LF closes unless "get "/"gets " after <= 100 spaces */
    /* (built in test_long_lines) */

    /* storage */
    T("set k 0 0 1\r\nx\r\n", "SET k=k d=x aux=5 => OK 16"),
    T("set k 1 2 3 noreply\r\nabc\r\n", "SET nr k=k d=abc n0=1 n1=2 aux=6 => OK 26"),
    T("add k 0 0 0\r\n\r\n", "ADD k=k d= aux=5 => OK 15"),
    T("replace k 0 0 1\r\nx\r\n", "REPLACE k=k d=x aux=5 => OK 20"),
    T("append k 0 0 1\r\nx\r\n", "APPEND k=k d=x aux=5 => OK 19"),
    T("prepend k 0 0 1\r\nx\r\n", "PREPEND k=k d=x aux=5 => OK 20"),
    T("cas k 0 0 1 5\r\nx\r\n", "CAS k=k d=x n2=5 aux=6 => OK 18"),
    T("cas k 0 0 1 5 noreply\r\nx\r\n", "CAS nr k=k d=x n2=5 aux=7 => OK 26"),
    T("cas k 0 0 1 5 foo\r\nx\r\n", "CAS k=k d=x n2=5 aux=7 => OK 22"),  /* EXISTS: foo ignored */
    T("set k 0 0 1 foo\r\nx\r\n", "SET k=k d=x aux=6 => OK 20"),       /* STORED */
    T("cas k 0 0 1\r\nx\r\n", "UNKNOWN:ERROR | UNKNOWN:ERROR => OK 16"), /* ERROR ERROR */
    T("set k 0 0\r\n", "UNKNOWN:ERROR => OK 11"),
    T("set k 0 0 1 noreply x\r\nx\r\n", "UNKNOWN:ERROR | UNKNOWN:ERROR => OK 26"),
    T("set k 0 0 1 \r\nx\r\n", "SET k=k d=x aux=5 => OK 17"),
    T("set  k  0  0  1 \r\nx\r\n", "SET k=k d=x aux=5 => OK 21"),
    T("set k 0 0 1\r\r\nx\r\n", "SET k=k d=x aux=5 => OK 17"),         /* "1\r": strtol stops at \r */
    T("set k 0 0 1\rxx\r\nx\r\n", "SET k=k d=x aux=5 => OK 19"),
    T("set k 0 0 1\0junk\r\nx\r\n", "SET k=k d=x aux=5 => OK 21"),      /* STORED */
    T("set a\001b 0 0 1\r\nx\r\n", "SET k=a\\x01b d=x aux=5 => OK 18"),  /* control chars accepted */
    T("set k\tj 0 0 1\r\nx\r\n", "SET k=k\\tj d=x aux=5 => OK 18"),
    /* data chunk: exactly <bytes>+2, must end in CRLF, else bad data chunk and resync after */
    T("set k 0 0 3\r\nabcd\r\n", "SET:BAD_DATA_CHUNK k=k d=abc aux=5 | UNKNOWN:ERROR => OK 19"),
    T("set n 0 0 1 noreply\r\nxy\r\n", "SET:BAD_DATA_CHUNK nr k=n d=x aux=6 | UNKNOWN:ERROR => OK 25"),
    T("set k 0 0 1\r\nx\n\r\n", "SET:BAD_DATA_CHUNK k=k d=x aux=5 | UNKNOWN:ERROR => OK 17"),
    T("set k 0 0 1\r\nx\rversion\r\n", "SET:BAD_DATA_CHUNK k=k d=x aux=5 | UNKNOWN:ERROR => OK 24"),
    T("set k 0 0 2\r\nx\r\n", "SET inc k=k d=+2 aux=5 => OK 0"),         /* waits */
    T("set k 0 0 10\r\nabc", "SET inc k=k d=+10 aux=5 => OK 0"),
    T("get a\r\nset k 0 0 10\r\nabc", "GET last k=a | SET inc k=k d=+10 aux=5 => OK 7"),
    T("set k 0 0 2147483645\r\n", "SET inc k=k d=+2147483645 aux=5 => OK 0"),
    /* numbers: memcached's safe_strto* */
    T("set k 0 0 -1\r\n", "SET:BAD_FORMAT aux=5 => OK 14"),              /* no swallow */
    T("set k 0 0 4294967295\r\n", "SET:BAD_FORMAT aux=5 => OK 22"),       /* int32 -1 */
    T("set k 0 0 2147483647\r\n", "SET:BAD_FORMAT aux=5 => OK 22"),
    T("set k 0 0 2147483646\r\n", "SET:BAD_FORMAT aux=5 => OK 22"),
    T("set k 0 0 4294967296\r\n\r\n", "SET k=k d= aux=5 => OK 24"),       /* STORED, 0 bytes */
    T("set k 0 0 -4294967295\r\nx\r\n", "SET k=k d=x aux=5 => OK 26"),    /* STORED, 1 byte */
    T("set k 0 0 99999999999999999999\r\n", "SET:BAD_FORMAT aux=5 => OK 32"), /* ERANGE */
    T("set k 4294967296 0 1\r\nx\r\n", "SET k=k d=x aux=5 => OK 25"),      /* flags 0 */
    T("set k 18446744073709551615 0 1\r\nx\r\n", "SET k=k d=x n0=4294967295 aux=5 => OK 35"),
    T("set k 18446744073709551616 0 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 35"),
    T("set k -1 0 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 17"),
    T("set k -18446744073709551611 0 1\r\nx\r\n", "SET k=k d=x n0=5 aux=5 => OK 36"),
    T("set k +5 0 1\r\nx\r\n", "SET k=k d=x n0=5 aux=5 => OK 17"),
    T("set k 5\t 0 1\r\nx\r\n", "SET k=k d=x n0=5 aux=5 => OK 17"),
    T("set k 5\tzz 0 1\r\nx\r\n", "SET k=k d=x n0=5 aux=5 => OK 19"),
    T("set k \t5 0 1\r\nx\r\n", "SET k=k d=x n0=5 aux=5 => OK 17"),
    T("set k 5x 0 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 17"),
    T("set k 0x5 0 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 18"),
    T("set k +-5 0 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 18"),
    T("set k 0 -1 1\r\nx\r\n", "SET k=k d=x n1=-1 aux=5 => OK 17"),
    T("set k 0 99999999999 1\r\nx\r\n", "SET k=k d=x n1=1215752191 aux=5 => OK 26"),
    T("set k 0 abc 1\r\nx\r\n", "SET:BAD_FORMAT aux=5 | UNKNOWN:ERROR => OK 18"),
    T("set k 0 0 +1\r\nx\r\n", "SET k=k d=x aux=5 => OK 17"),
    T("cas k 0 0 1 abc\r\nx\r\n", "CAS:BAD_FORMAT aux=6 | UNKNOWN:ERROR => OK 20"),
    T("cas k 0 0 1 -1\r\nx\r\n", "CAS:BAD_FORMAT aux=6 | UNKNOWN:ERROR => OK 19"),
    T("cas k 0 0 1 18446744073709551615\r\nx\r\n", "CAS k=k d=x n2=18446744073709551615 aux=6 => OK 37"),
    T("cas k 0 0 1 18446744073709551616\r\nx\r\n", "CAS:BAD_FORMAT aux=6 | UNKNOWN:ERROR => OK 37"),
    /* noreply is the last token whatever the count: a silent bad format */
    T("set k 0 0 noreply\r\nversion\r\n", "SET:BAD_FORMAT nr aux=5 | VERSION aux=1 => OK 28"),
    /* keys */
    T("set " K250 " 0 0 1\r\nx\r\n", "SET k=" K250 " d=x aux=5 => OK 265"),
    T("set " K251 " 0 0 1\r\nx\r\n", "SET:KEY_TOO_LONG aux=5 | UNKNOWN:ERROR => OK 266"),
    T("set " K251 " 0 0 1 noreply\r\nx\r\n", "SET:KEY_TOO_LONG nr aux=6 | UNKNOWN:ERROR => OK 274"),

    /* retrieval */
    T("get a\r\n", "GET last k=a => OK 7"),
    T("get a b  c \r\n", "GET k=a | GET k=b | GET last k=c => OK 13"),
    T("gets a\r\n", "GETS last k=a => OK 8"),
    T("bget a\r\n", "GET last k=a => OK 8"),
    T("get a noreply\r\n", "GET k=a | GET last k=noreply => OK 15"),
    T("get\r\n", "UNKNOWN:ERROR => OK 5"),
    T("get \r\n", "UNKNOWN:ERROR => OK 6"),
    T("get k\0\r\n", "GET last k=k => OK 8"),
    T("get \0k\r\n", "UNKNOWN:ERROR => OK 8"),
    T("get " K250 "\r\n", "GET last k=" K250 " => OK 256"),
    T("get " K251 "\r\n", "GET:KEY_TOO_LONG => OK 257"),
    T("get a a " K251 " a\r\n", "GET:KEY_TOO_LONG => OK 263"),           /* no VALUE at all */
    T("gets a " K251 "\r\n", "GETS:KEY_TOO_LONG => OK 260"),
    T("gat 0 a " K251 "\r\n", "GAT:KEY_TOO_LONG => OK 261"),
    T("gat 10 a\r\n", "GAT last k=a n1=10 => OK 10"),
    T("gats 10 a b\r\n", "GATS k=a n1=10 | GATS last k=b n1=10 => OK 13"),
    T("gat -1 a\r\n", "GAT last k=a n1=-1 => OK 10"),
    T("gat abc a\r\n", "GAT:INVALID_EXPTIME => OK 11"),
    T("gat abc " K251 "\r\n", "GAT:INVALID_EXPTIME => OK 261"),            /* exptime first */
    T("gat abc\r\n", "GAT:INVALID_EXPTIME => OK 9"),
    T("gat 0\r\n", "GAT last => OK 7"),                                 /* END */
    T("gat\r\n", "UNKNOWN:ERROR => OK 5"),
    T("get k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20 k21 k22 k23 k24\r\n",
      "GET k=k0 | GET k=k1 | GET k=k2 | GET k=k3 | GET k=k4 | GET k=k5 | GET k=k6 | GET k=k7 | GET k=k8 | "
      "GET k=k9 | GET k=k10 | GET k=k11 | GET k=k12 | GET k=k13 | GET k=k14 | GET k=k15 | GET k=k16 | "
      "GET k=k17 | GET k=k18 | GET k=k19 | GET k=k20 | GET k=k21 | GET k=k22 | GET k=k23 | GET last k=k24 => OK 95"),

    /* delete */
    T("delete d\r\n", "DELETE k=d aux=2 => OK 10"),
    T("delete d 0\r\n", "DELETE arg k=d aux=3 => OK 12"),                  /* NOT_FOUND */
    T("delete d 5\r\n", "DELETE:DELETE_USAGE aux=3 => OK 12"),
    T("delete d 00\r\n", "DELETE:DELETE_USAGE aux=3 => OK 13"),
    T("delete d 0 0\r\n", "DELETE:DELETE_USAGE aux=4 => OK 14"),
    T("delete d 0 noreply\r\n", "DELETE nr arg k=d aux=4 => OK 20"),
    T("delete d noreply\r\n", "DELETE nr k=d aux=3 => OK 18"),
    T("delete noreply\r\n", "DELETE k=noreply aux=2 => OK 16"),
    T("delete d 5 noreply\r\n", "DELETE:DELETE_USAGE nr aux=4 => OK 20"),  /* silent */
    T("delete d noreply noreply\r\n", "DELETE:DELETE_USAGE nr aux=4 => OK 26"),
    T("delete d 0 noreply x\r\n", "UNKNOWN:ERROR => OK 22"),
    T("delete\r\n", "UNKNOWN:ERROR => OK 8"),
    T("delete " K251 "\r\n", "DELETE:KEY_TOO_LONG aux=2 => OK 260"),
    T("delete " K251 " noreply\r\n", "DELETE:KEY_TOO_LONG nr aux=3 => OK 268"),
    /* incr / decr */
    T("incr a 1\r\n", "INCR k=a n0=1 aux=3 => OK 10"),
    T("decr a 18446744073709551615\r\n", "DECR k=a n0=18446744073709551615 aux=3 => OK 29"),
    T("incr a 18446744073709551616\r\n", "INCR:INVALID_DELTA aux=3 => OK 29"),
    T("incr a -1\r\n", "INCR:INVALID_DELTA aux=3 => OK 11"),
    T("decr a -0\r\n", "DECR k=a aux=3 => OK 11"),
    T("incr a +3\r\n", "INCR k=a n0=3 aux=3 => OK 11"),
    T("incr a abc\r\n", "INCR:INVALID_DELTA aux=3 => OK 12"),
    T("incr a 1 noreply\r\n", "INCR nr k=a n0=1 aux=4 => OK 18"),
    T("incr a abc noreply\r\n", "INCR:INVALID_DELTA nr aux=4 => OK 20"),
    T("incr k noreply\r\n", "INCR:INVALID_DELTA nr aux=3 => OK 16"),       /* silent */
    T("incr a\r\n", "UNKNOWN:ERROR => OK 8"),
    T("incr a 1 noreply x\r\n", "UNKNOWN:ERROR => OK 20"),
    T("incr " K251 " 1\r\n", "INCR:KEY_TOO_LONG aux=3 => OK 260"),
    /* touch */
    T("touch a 10\r\n", "TOUCH k=a n1=10 aux=3 => OK 12"),
    T("touch a abc\r\n", "TOUCH:INVALID_EXPTIME aux=3 => OK 13"),
    T("touch a\r\n", "UNKNOWN:ERROR => OK 9"),
    T("touch a 10 noreply\r\n", "TOUCH nr k=a n1=10 aux=4 => OK 20"),
    T("touch k noreply\r\n", "TOUCH:INVALID_EXPTIME nr aux=3 => OK 17"),
    T("touch a 99999999999\r\n", "TOUCH k=a n1=1215752191 aux=3 => OK 21"),
    T("touch " K251 " 1\r\n", "TOUCH:KEY_TOO_LONG aux=3 => OK 261"),

    /* flush_all */
    T("flush_all\r\n", "FLUSH_ALL aux=1 => OK 11"),
    T("flush_all 0\r\n", "FLUSH_ALL arg aux=2 => OK 13"),
    T("flush_all -1\r\n", "FLUSH_ALL arg n1=-1 aux=2 => OK 14"),            /* OK */
    T("flush_all abc\r\n", "FLUSH_ALL:INVALID_EXPTIME aux=2 => OK 15"),
    T("flush_all noreply\r\n", "FLUSH_ALL nr aux=2 => OK 19"),
    T("flush_all 5 noreply\r\n", "FLUSH_ALL nr arg n1=5 aux=3 => OK 21"),
    T("flush_all 5 y\r\n", "FLUSH_ALL arg n1=5 aux=3 => OK 15"),            /* OK */
    T("flush_all noreply 5\r\n", "FLUSH_ALL:INVALID_EXPTIME aux=3 => OK 21"),
    T("flush_all noreply noreply\r\n", "FLUSH_ALL:INVALID_EXPTIME nr aux=3 => OK 27"),
    T("flush_all 0 noreply x\r\n", "UNKNOWN:ERROR => OK 23"),
    /* verbosity (memcapable's cases) */
    T("verbosity\r\n", "UNKNOWN:ERROR => OK 11"),
    T("verbosity noreply\r\n", "VERBOSITY:BAD_FORMAT nr aux=2 => OK 19"),   /* silent */
    T("verbosity 0 noreply\r\n", "VERBOSITY nr aux=3 => OK 21"),
    T("verbosity foo bar my\r\n", "UNKNOWN:ERROR => OK 22"),
    T("verbosity invalid\r\n", "VERBOSITY:BAD_FORMAT aux=2 => OK 19"),
    T("verbosity 1\r\n", "VERBOSITY n0=1 aux=2 => OK 13"),
    T("verbosity 1 foo\r\n", "VERBOSITY n0=1 aux=3 => OK 17"),
    T("verbosity -1\r\n", "VERBOSITY:BAD_FORMAT aux=2 => OK 14"),
    T("verbosity 4294967296\r\n", "VERBOSITY aux=2 => OK 22"),               /* OK (level 0) */
    /* stats: the server decides */
    T("stats\r\n", "STATS aux=1 => OK 7"),
    T("stats noreply\r\n", "STATS k=noreply aux=2 => OK 15"),                /* ERROR */
    T("stats detail on x\r\n", "STATS k=detail d=on aux=4 => OK 19"),
    T("stats cachedump 1 2\r\n", "STATS arg k=cachedump d=1 n0=1 n1=2 aux=4 => OK 21"),
    T("stats cachedump x 1\r\n", "STATS k=cachedump d=x aux=4 => OK 21"),
    T("stats a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
      "STATS k=a d=b aux=24 => OK 59"),
    /* cache_memlimit, shutdown, quit */
    T("cache_memlimit 64\r\n", "CACHE_MEMLIMIT n0=64 aux=2 => OK 19"),
    T("cache_memlimit abc\r\n", "CACHE_MEMLIMIT:ERROR aux=2 => OK 20"),
    T("cache_memlimit noreply\r\n", "CACHE_MEMLIMIT:ERROR nr aux=2 => OK 24"), /* silent */
    T("cache_memlimit 64 x\r\n", "CACHE_MEMLIMIT n0=64 aux=3 => OK 21"),
    T("cache_memlimit 4294967360\r\n", "CACHE_MEMLIMIT n0=64 aux=2 => OK 27"), /* OK */
    T("cache_memlimit\r\n", "UNKNOWN:ERROR => OK 16"),
    T("shutdown\r\n", "SHUTDOWN aux=1 => OK 10"),
    T("shutdown graceful\r\n", "SHUTDOWN k=graceful aux=2 => OK 19"),
    T("quit\r\nversion\r\n", "QUIT aux=1 => CLOSE:QUIT 6"),
    T("quit foo\r\n", "QUIT aux=2 => CLOSE:QUIT 10"),
    T("version\r\nquit\r\nversion\r\n", "VERSION aux=1 | QUIT aux=1 => CLOSE:QUIT 15"),
    /* debug commands only when enabled; "d" names never get the HTTP check */
    T("debugtime 5\r\n", "UNKNOWN:ERROR => OK 13"),
    T("debug_fault 1\r\n", "UNKNOWN:ERROR => OK 15"),
    T("debug_fault HTTP/1.1\r\n", "UNKNOWN:ERROR => OK 22"),
    TO("debugtime 5\r\n", ALL_OPTS, "DEBUGTIME arg k=5 n0=5 aux=2 => OK 13"),
    TO("debugtime -5\r\n", ALL_OPTS, "DEBUGTIME arg k=-5 n0=18446744073709551611 aux=2 => OK 14"),
    TO("debugtime p\r\n", ALL_OPTS, "DEBUGTIME k=p aux=2 => OK 13"),
    TO("debugtime r\r\n", ALL_OPTS, "DEBUGTIME k=r aux=2 => OK 13"),
    TO("debugtime x\r\n", ALL_OPTS, "DEBUGTIME:ERROR aux=2 => OK 13"),
    TO("debugtime\r\n", ALL_OPTS, "UNKNOWN:ERROR => OK 11"),
    TO("debug_fault 7\r\n", REMC_IN_FAULT_INJECTION, "DEBUG_FAULT n0=7 aux=2 => OK 15"),
    TO("debug_fault x\r\n", REMC_IN_FAULT_INJECTION, "DEBUG_FAULT:BAD_FORMAT aux=2 => OK 15"),
    TO("debug_fault 1 2\r\n", REMC_IN_FAULT_INJECTION, "UNKNOWN:ERROR => OK 17"),
    TO("debugtime 5\r\n", REMC_IN_FAULT_INJECTION, "UNKNOWN:ERROR => OK 13"),

    /* pipelines */
    T("set a 0 0 1\r\nx\r\nget a b\r\ndelete a\r\nincr n 5\r\nversion\r\n",
      "SET k=a d=x aux=5 | GET k=a | GET last k=b | DELETE k=a aux=2 | INCR k=n n0=5 aux=3 | "
      "VERSION aux=1 => OK 54"),
    T("set a 0 0 5 noreply\r\nhello\r\nget a\nget b\r\ngets c",
      "SET nr k=a d=hello aux=6 | GET last k=a | GET last k=b => OK 41"),
};

/* ---- table driver ---------------------------------------------------------------------- */

static void test_table(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const tcase *c = &cases[i];
    char *got = run_whole((const uint8_t *)c->in, (uint32_t)c->len, c->opts, DESC_CAP_MAX, 0);
    CHECK(strcmp(got, c->want) == 0, "case %zu\n   in:   %.*s\n   want: %s\n   got:  %s", i,
          (int)(c->len > 120 ? 120 : c->len), c->in, c->want, got);
    free(got);
  }
}

/* debug_fault calls the hook exactly once, at that line, before the descriptor is emitted */
static void test_fault_hook(void) {
  const char *in = "get a\r\ndebug_fault 9\r\nget b\r\n";
  g_fault_calls = 0;
  char *got = run_whole((const uint8_t *)in, (uint32_t)strlen(in), REMC_IN_FAULT_INJECTION, 64, 0);
  CHECK(g_fault_calls == 1 && g_fault_kind == 9, "fault hook calls %u kind %u", g_fault_calls,
        g_fault_kind);
  free(got);
  /* descriptor area full right before it: called once, in the second call */
  g_fault_calls = 0;
  got = run_whole((const uint8_t *)in, (uint32_t)strlen(in), REMC_IN_FAULT_INJECTION, 1, 0);
  CHECK(g_fault_calls == 1, "fault hook calls with cap 1: %u", g_fault_calls);
  free(got);
  g_fault_calls = 0;
  got = run_whole((const uint8_t *)in, (uint32_t)strlen(in), 0, 64, 0);
  CHECK(g_fault_calls == 0, "fault hook called without the option");
  free(got);
}

/* Every name in REMC_TEXT_COMMANDS parses to its own op (with some argument count), and its
 * upper-case spelling never does: the parser's packed immediates and the table agree. */
static void test_names_match_table(void) {
  static const char *const args[] = {"", " 1", " 1 1", " 1 1 1", " 1 1 1 1", " 1 1 1 1 1"};
  for (uint32_t op = REMC_OP_UNKNOWN + 1; op < REMC_OP_COUNT; op++) {
    const char *name = text_names[op - REMC_OP_UNKNOWN - 1];
    int found = 0;
    for (size_t a = 0; a < 6 && !found; a++) {
      char line[128], upper[128];
      snprintf(line, sizeof line, "%s%s\r\n", name, args[a]);
      snprintf(upper, sizeof upper, "%s", line);
      for (char *p = upper; *p && *p != ' '; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
      CHECK(parse_once((const uint8_t *)line, (uint32_t)strlen(line), 0, 0, ALL_OPTS, 8) == 0,
            "validate %s", line);
      if (g_io->ndesc && g_io->desc[D_OP] == op) found = 1;
      parse_once((const uint8_t *)upper, (uint32_t)strlen(upper), 0, 0, ALL_OPTS, 8);
      CHECK(g_io->ndesc == 0 || g_io->desc[D_OP] == REMC_OP_UNKNOWN, "upper-case %s matched", upper);
    }
    CHECK(found, "name \"%s\" never parses to op %s", name, op_names[op]);
  }
}

/* Lines over 2048 bytes without LF: close, unless a get/gets after <= 100 spaces (wait). */
static void test_long_lines(void) {
  static uint8_t buf[8192];
  struct {
    uint32_t spaces;
    const char *head;
    uint32_t total;
    const char *want;
  } t[] = {
      {0, "set ", 3004, "=> CLOSE:LINE_TOO_LONG 0"},  /* observed: closed */
      {0, "get ", 3004, "=> OK 0"},                   /* observed: kept open */
      {0, "gets ", 3005, "=> OK 0"},
      {100, "get ", 3104, "=> OK 0"},
      {101, "get ", 3105, "=> CLOSE:LINE_TOO_LONG 0"},
      {0, "gat 0 ", 3006, "=> CLOSE:LINE_TOO_LONG 0"},
      {0, "get\t", 3004, "=> CLOSE:LINE_TOO_LONG 0"},
      {0, "x", 2048, "=> OK 0"},                     /* observed: 2048 kept, 2049 closed */
      {0, "x", 2049, "=> CLOSE:LINE_TOO_LONG 0"},
      {3000, "", 3000, "=> CLOSE:LINE_TOO_LONG 0"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    uint32_t n = 0;
    for (uint32_t s = 0; s < t[i].spaces; s++) buf[n++] = ' ';
    for (const char *h = t[i].head; *h; h++) buf[n++] = (uint8_t)*h;
    for (; n < t[i].total; n++) buf[n] = (n & 1) ? 'a' : ' ';
    if (t[i].head[0] == 'x') memset(buf, 'x', n);
    char *got = run_whole(buf, n, 0, 8, 0);
    CHECK(strcmp(got, t[i].want) == 0, "long line %zu: want %s got %s", i, t[i].want, got);
    free(got);
  }
  /* after a complete command: the version runs, then the close (memcached sends nothing) */
  memcpy(buf, "version\r\n", 9);
  memset(buf + 9, 'x', 2049);
  char *got = run_whole(buf, 9 + 2049, 0, 8, 0);
  CHECK(strcmp(got, "VERSION aux=1 => CLOSE:LINE_TOO_LONG 9") == 0, "version+long: %s", got);
  free(got);
  /* a long line with its LF is just a line */
  uint32_t n = 0;
  memcpy(buf, "get ", 4), n = 4;
  for (int k = 0; k < 1000; k++) buf[n++] = 'a' + k % 26, buf[n++] = ' ';
  buf[n++] = '\n';
  int v = parse_once(buf, n, 0, 0, 0, DESC_CAP_MAX);
  CHECK(v == 0 && g_io->status == REMC_PS_FULL && g_io->ndesc == DESC_CAP_MAX &&
            g_io->out_resume_off == 4 + 2 * DESC_CAP_MAX,
        "long multiget: v=%d st=%u nd=%u r=%u", v, g_io->status, g_io->ndesc, g_io->out_resume_off);
}

/*
 * Split invariance: feed the input in two pieces, as the server does (keep [consumed, len), append
 * the rest, call again; loop over FULL with resume_off), with descriptor areas of 1..4 and 256:
 * the descriptors (with absolute spans, DATA_INCOMPLETE ones dropped) must equal the one-shot run.
 */
static char *run_split(const uint8_t *in, uint32_t len, uint32_t split, uint32_t opts, uint32_t cap) {
  sbuf b = {0};
  sb_put(&b, "%s", "");
  uint8_t *w = malloc(len + 1);
  uint32_t have = 0, fed = 0, start = 0, resume = 0;
  uint64_t base = 0; /* stream offset of w[0] */
  uint32_t next_feed = split;
  for (int guard = 0; guard < 1000000; guard++) {
    if (fed < next_feed) { /* the socket delivers more */
      memcpy(w + have, in + fed, next_feed - fed);
      have += next_feed - fed;
      fed = next_feed;
    }
    uint8_t *win = malloc(have ? have : 1); /* exact-size window: ASan sees over-reads */
    memcpy(win, w, have);
    int v = parse_once(win, have, start, resume, opts, cap);
    CHECK(v == 0, "split %u cap %u: validate=%d", split, cap, v);
    for (uint32_t i = 0; i < g_io->ndesc; i++) {
      const uint32_t *d = g_io->desc + (size_t)i * REMC_DESC_WORDS;
      if (d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE) continue;
      if (b.n) sb_put(&b, " | ");
      render_desc(&b, d, win, have, 1, base);
    }
    free(win);
    uint32_t st = g_io->status, consumed = g_io->consumed;
    if (st == REMC_PS_CLOSE) {
      sb_put(&b, "%sCLOSE:%s %llu", b.n ? " => " : "=> ", close_names[g_io->close_reason],
             (unsigned long long)(base + consumed));
      break;
    }
    if (st == REMC_PS_FULL) {
      start = consumed;
      resume = g_io->out_resume_off;
      /* like the server: tell the parser where the cut multiget's line ends */
      if (resume) g_resume_end = g_io->desc[(size_t)(g_io->ndesc - 1) * REMC_DESC_WORDS + D_END];
      continue;
    }
    /* OK: drop what is consumed, as the server's pending buffer does */
    memmove(w, w + consumed, have - consumed);
    have -= consumed;
    base += consumed;
    start = 0;
    resume = 0;
    if (fed == len) {
      sb_put(&b, "%sOK %llu", b.n ? " => " : "=> ", (unsigned long long)base);
      break;
    }
    next_feed = len;
  }
  free(w);
  return b.p;
}

static void check_splits(const uint8_t *in, uint32_t len, uint32_t opts, const char *what) {
  static const uint32_t caps[] = {1, 2, 3, 4, DESC_CAP_MAX};
  char *whole = run_whole(in, len, opts, DESC_CAP_MAX, 1);
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
    for (uint32_t split = 0; split <= len; split++) {
      char *got = run_split(in, len, split, opts, caps[c]);
      CHECK(strcmp(got, whole) == 0, "%s: split at %u, cap %u\n   whole: %s\n   split: %s", what,
            split, caps[c], whole, got);
      free(got);
      if (failures > 50) return;
    }
  }
  free(whole);
}

static void test_splits(void) {
  /* every table case that does not depend on how the bytes arrive (the line limit does) */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_splits((const uint8_t *)cases[i].in, (uint32_t)cases[i].len, cases[i].opts, cases[i].in);
  static const tcase pipes[] = {
      T("set a 0 0 5\r\nhello\r\nget a b c d e f g\r\ngets a\r\ndelete a noreply\r\n"
        "incr n 1\r\ndecr n 1 noreply\r\ntouch a 10\r\ngat 5 a b c\r\nversion\r\nquit\r\n", ""),
      T("cas k 1 2 3 4\r\nabc\r\nset k 0 0 3\r\nabcd\r\nget k k k\r\n\r\nstats\r\nflush_all 0\r\n", ""),
      T("get a\nget b\nset c 0 0 2\nxy\r\nget c\n", ""),
      T("get " K250 " " K250 " " K250 "\r\nget " K251 " a\r\nget a b\r\n", ""),
      T("GET / HTTP/1.1\r\nversion\r\n", ""),
      T("get a b c\0d e\r\nget f g\0\r\ngat 1 h i \0 j\r\nget k\0\0 l\r\n", ""), /* keys end at NUL */
      T("set k 0 0 10\r\n0123456789\r\nset j 0 0 0\r\n\r\nappend k 0 0 1 noreply\r\nz\r\n", ""),
  };
  for (size_t i = 0; i < sizeof pipes / sizeof pipes[0]; i++)
    check_splits((const uint8_t *)pipes[i].in, (uint32_t)pipes[i].len, 0, pipes[i].in);
}

/* Hostile bytes: every call validates, consumed stays in the window, FULL makes progress.
 * Under SAN=1 the exact-size windows turn any read past len into a failure. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)rng;
}
static void test_hostile(void) {
  static const char *const atoms[] = {
      "get ", "gets ", "gat ", "set ", "cas ", "delete ", "incr ", "touch ", "flush_all ", "stats ",
      "verbosity ", "quit", "version", "noreply", " ", "  ", "\r\n", "\n", "\r", "\0", "\t", "0",
      "1", "-1", "+", "-", "4294967296", "18446744073709551616", "2147483645", "HTTP/1.1", K251,
      "k", "abc", "debug_fault ", "debugtime ", "\xff\x80", "cache_memlimit ", "shutdown "};
  uint8_t *buf = malloc(1 << 16);
  for (int iter = 0; iter < 20000; iter++) {
    uint32_t n = 0, natoms = rnd() % 24;
    for (uint32_t a = 0; a < natoms; a++) {
      uint32_t k = rnd() % (sizeof atoms / sizeof atoms[0] + 4);
      if (k >= sizeof atoms / sizeof atoms[0]) { /* raw random bytes */
        uint32_t m = rnd() % 16;
        for (uint32_t j = 0; j < m; j++) buf[n++] = (uint8_t)rnd();
      } else {
        const char *s = atoms[k];
        size_t m = k == 19 ? 1 : strlen(s);
        memcpy(buf + n, s, m);
        n += (uint32_t)m;
      }
    }
    uint32_t opts = rnd() & ALL_OPTS, cap = 1 + rnd() % 8;
    char *a = run_whole(buf, n, opts, cap, 1);
    char *b2 = run_split(buf, n, rnd() % (n + 1), opts, 1 + rnd() % 8);
    /* the line limit depends on arrival; everything else must agree */
    if (!strstr(a, "LINE_TOO_LONG") && !strstr(b2, "LINE_TOO_LONG"))
      CHECK(strcmp(a, b2) == 0, "hostile %d: whole/split differ\n   whole: %s\n   split: %s", iter,
            a, b2);
    free(a);
    free(b2);
    if (failures > 50) break;
  }
  /* pure garbage, including every byte value */
  for (int iter = 0; iter < 2000; iter++) {
    uint32_t n = rnd() % 5000;
    for (uint32_t j = 0; j < n; j++) buf[j] = (uint8_t)rnd();
    free(run_whole(buf, n, ALL_OPTS, 1 + rnd() % 16, 0));
  }
  /* start beyond len, resume_off pointing anywhere: still valid output */
  const char *in = "get a b c\r\nget d\r\n";
  for (uint32_t r = 0; r < 20; r++) {
    int v = parse_once((const uint8_t *)in, 18, 0, r, 0, 2);
    CHECK(v == 0, "resume %u: validate %d", r, v);
  }
  free(buf);
}

/* The validator refuses what a subverted parser might return. */
static void test_validator(void) {
  const char *in = "set k 0 0 1\r\nx\r\nget a b\r\n";
  uint32_t len = (uint32_t)strlen(in);
  remc_parse_req req = {.len = len, .desc_cap = 8, .heap_size = 64};
  struct {
    int word, desc; /* desc -1: an io field (word = offsetof / 4) */
    uint32_t value;
    int want;
  } t[] = {
      {D_OP, 0, 0, REMC_V_OP},
      {D_OP, 0, REMC_OP_COUNT, REMC_V_OP},
      {D_OP, 0, REMC_OP_DEBUG_FAULT, REMC_V_OP},
      {D_ERR, 0, REMC_PERR_COUNT, REMC_V_ERR},
      {D_ERR, 0, REMC_PERR_INVALID_DELTA, REMC_V_ERR},
      {D_FLAGS, 0, 1u << 7, REMC_V_FLAGS},
      {D_FLAGS, 0, REMC_DF_LAST_KEY, REMC_V_FLAGS},
      {D_END, 0, 1000, REMC_V_RANGE},
      {D_START, 0, 20, REMC_V_RANGE},
      {D_KEY_OFF, 0, 100, REMC_V_KEY},
      {D_KEY_LEN, 0, 0, REMC_V_KEY},
      {D_KEY_LEN, 0, 20, REMC_V_KEY},
      {D_DATA_LEN, 0, 5, REMC_V_DATA},
      {D_DATA_OFF, 0, 3, REMC_V_KEY},
      {D_N1_HI, 0, 1, REMC_V_NUMBER},
      {D_N0_HI, 0, 1, REMC_V_NUMBER},
      {D_START, 1, 0, REMC_V_ORDER},
      {D_FLAGS, 1, REMC_DF_LAST_KEY, REMC_V_ORDER},
      {D_KEY_LEN, 2, 251, REMC_V_KEY},
      {D_END, 2, 100, REMC_V_ORDER},
      {D_FLAGS, 0, REMC_DF_DATA_INCOMPLETE, REMC_V_INCOMPLETE},
      {D_OP, 1, REMC_OP_QUIT, REMC_V_KEY},
      {-1, -1, 0, 0}, /* sentinel for io fields below */
  };
  for (size_t i = 0; t[i].word >= 0; i++) {
    CHECK(parse_once((const uint8_t *)in, len, 0, 0, 0, 8) == 0, "baseline");
    g_io->desc[(size_t)t[i].desc * REMC_DESC_WORDS + t[i].word] = t[i].value;
    int v = remc_validate(g_io, &req, len);
    CHECK(v == t[i].want, "validator case %zu: want %d got %d", i, t[i].want, v);
  }
  struct {
    size_t off;
    uint32_t value;
    int want;
  } f[] = {
      {offsetof(remc_parse_io, status), REMC_PS_COUNT, REMC_V_STATUS},
      {offsetof(remc_parse_io, status), REMC_PS_CLOSE, REMC_V_STATUS},
      {offsetof(remc_parse_io, close_reason), REMC_CLOSE_HTTP, REMC_V_STATUS},
      {offsetof(remc_parse_io, consumed), 100, REMC_V_CONSUMED},
      {offsetof(remc_parse_io, consumed), 5, REMC_V_RANGE},
      {offsetof(remc_parse_io, ndesc), 9, REMC_V_NDESC},
      {offsetof(remc_parse_io, heap_used), 65, REMC_V_HEAP},
      {offsetof(remc_parse_io, out_resume_off), 24, REMC_V_RESUME},
      {offsetof(remc_parse_io, len), 4096, REMC_V_OK}, /* in-fields in io are not trusted... */
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    CHECK(parse_once((const uint8_t *)in, len, 0, 0, 0, 8) == 0, "baseline");
    *(uint32_t *)((char *)g_io + f[i].off) = f[i].value;
    int v = remc_validate(g_io, &req, len);
    CHECK(v == f[i].want, "validator io case %zu: want %d got %d", i, f[i].want, v);
  }
  /* ...req is: a descriptor past req.len is refused even if io claims a longer window */
  CHECK(parse_once((const uint8_t *)in, len, 0, 0, 0, 8) == 0, "baseline");
  remc_parse_req shorter = req;
  shorter.len = len - 1;
  CHECK(remc_validate(g_io, &shorter, len) != 0, "validator trusted io->len");
  remc_parse_req bad = req;
  bad.start = len + 1;
  CHECK(remc_validate(g_io, &bad, len) == REMC_V_REQ, "bad req accepted");
  /* FULL without descriptors */
  CHECK(parse_once((const uint8_t *)in, len, 0, 0, 0, 0) == REMC_V_NO_PROGRESS, "cap 0");
}

int main(void) {
  init_io();
  test_table();
  test_fault_hook();
  test_names_match_table();
  test_long_lines();
  test_validator();
  test_splits();
  test_hostile();
  printf("parser_test: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
