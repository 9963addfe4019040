// sources: native/parser/[!f]*.c native/binding/validate*.c
/*
 * meta_test.c — the meta command parser (native/parser/meta.c, reached through text.c) against
 * memcached 1.6.18's behaviour, table-driven: input line(s) -> descriptors rendered as text.
 * Expectations come from proto_text.c (process_m*_command, _meta_flag_preparse, base64.c) and
 * from the real server (memcached -p PORT -U 0 -t 1; the replies are in the comments).
 *
 * Then, for every case: the input re-fed in two pieces split at every byte (as reads arrive)
 * must give the same descriptors; every call must pass remc_validate; and random mutations of
 * the inputs (truncations, flipped bytes, spliced flags) must validate and stay in the window
 * (run with SAN=1 for ASan/UBSan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remc_abi.h"

/* fault_inject.c is not linked (it needs the domain runtime): no debug_fault lines here. */
void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  (void)kind;
}

static const char *const op_names[] = {"NONE", "UNKNOWN",
#define X(id, name) #id,
                                       REMC_TEXT_COMMANDS(X)
#undef X
};
static const char *const merr_names[] = {
#define X(id) #id,
    REMC_META_ERRORS(X)
#undef X
};

static int failures, checks;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    checks++;                                              \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

typedef struct {
  char p[1 << 16];
  size_t n;
} sbuf;
static void sb_put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(b->p + b->n, sizeof b->p - b->n, fmt, ap);
  va_end(ap);
  if (k > 0) b->n += (size_t)k;
  if (b->n >= sizeof b->p) b->n = sizeof b->p - 1;
}
static void sb_bytes(sbuf *b, const uint8_t *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (c < 32 || c >= 127 || c == '|') sb_put(b, "\\x%02x", c);
    else sb_put(b, "%c", c);
  }
}
static uint64_t n64(const uint32_t *d, int lo) { return (uint64_t)d[lo] | (uint64_t)d[lo + 1] << 32; }

/* "OP[:ERR][ q][ inc] k=.. [d=..|d=+n] f=<letters> C= T= N= J= D= R= F= O= M= dk=" */
static void render(sbuf *b, const uint32_t *d, const uint8_t *w) {
  uint32_t op = d[D_OP], fl = d[D_FLAGS];
  sb_put(b, "%s", op < REMC_OP_COUNT ? op_names[op] : "?");
  if (op < REMC_OP_MG) {
    sb_put(b, "|");
    return;
  }
  if (d[D_ERR]) sb_put(b, ":%s", d[D_ERR] < REMC_MERR_COUNT ? merr_names[d[D_ERR]] : "?");
  if (fl & REMC_DF_NOREPLY) sb_put(b, " q");
  const int swallows = d[D_ERR] && d[D_ERR] != REMC_MERR_BAD_DATA_CHUNK;
  if (swallows) { /* an ms error: the data block is swallowed, whether all here or not */
    if (d[D_DATA_OFF]) sb_put(b, " swallow=%u", d[D_DATA_LEN] + 2);
    sb_put(b, "|");
    return;
  }
  if (fl & REMC_DF_DATA_INCOMPLETE) sb_put(b, " inc");
  if (d[D_KEY_LEN]) {
    sb_put(b, " k=");
    sb_bytes(b, w + d[D_KEY_OFF], d[D_KEY_LEN]);
  }
  if (d[D_DATA_OFF] || d[D_DATA_LEN]) {
    if (fl & REMC_DF_DATA_INCOMPLETE) sb_put(b, " d=+%u", d[D_DATA_LEN]);
    else {
      sb_put(b, " d=");
      sb_bytes(b, w + d[D_DATA_OFF], d[D_DATA_LEN]);
    }
  }
  if (d[D_M_NFLAGS]) {
    sb_put(b, " f=");
    for (uint32_t i = 0; i < d[D_M_NFLAGS]; i++)
      sb_put(b, "%c", (char)((d[D_M_FLAGS0 + i / 4] >> (8 * (i % 4))) & 0xff));
  }
  if (n64(d, D_N0_LO)) sb_put(b, " C=%llu", (unsigned long long)n64(d, D_N0_LO));
  if (d[D_N1_LO]) sb_put(b, " T=%d", (int32_t)d[D_N1_LO]);
  if (d[D_N1_HI]) sb_put(b, " N=%d", (int32_t)d[D_N1_HI]);
  if (n64(d, D_N2_LO)) sb_put(b, " J=%llu", (unsigned long long)n64(d, D_N2_LO));
  if (n64(d, D_M_DELTA_LO)) sb_put(b, " D=%llu", (unsigned long long)n64(d, D_M_DELTA_LO));
  if (d[D_M_RECACHE]) sb_put(b, " R=%d", (int32_t)d[D_M_RECACHE]);
  if (d[D_M_CLIENT_FLAGS]) sb_put(b, " F=%u", d[D_M_CLIENT_FLAGS]);
  if (d[D_M_OPAQUE_LEN]) {
    sb_put(b, " O=");
    sb_bytes(b, w + d[D_M_OPAQUE_OFF], d[D_M_OPAQUE_LEN]);
  }
  if (d[D_M_MODE]) sb_put(b, " M=%c", (char)d[D_M_MODE]);
  if (d[D_M_KEY_DLEN]) sb_put(b, " dk=%u", d[D_M_KEY_DLEN]);
  sb_put(b, "|");
}

#define CAP 64
static remc_parse_io *g_io;
static uint8_t g_win[1 << 16];
static uint32_t g_swallow; /* bytes past the window an errored ms swallows */

/* Parse w[0..len) from start; validates; renders descriptors into b. Returns consumed, or -1. */
static long parse(const uint8_t *w, uint32_t len, uint32_t start, uint32_t cap, sbuf *b, int *status) {
  remc_parse_req req = {0};
  req.len = len, req.start = start, req.desc_cap = cap, req.heap_size = 0;
  memset(g_io, 0xa5, sizeof(remc_parse_io) + (size_t)CAP * REMC_DESC_WORDS * 4);
  remc_parse_io_prepare(g_io, &req, 0);
  remc_parse(g_io, w);
  int v = remc_validate(g_io, &req, len);
  CHECK(v == 0, "validate = %d on input of %u bytes from %u: %.*s", v, len, start, (int)len, (const char *)w);
  if (v) return -1;
  g_swallow = 0;
  for (uint32_t i = 0; i < g_io->ndesc; i++) {
    const uint32_t *d = g_io->desc + (size_t)i * REMC_DESC_WORDS;
    /* as the server: an incomplete ms is waited for, unless it is an error that swallows */
    if ((d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE) && !d[D_ERR]) break;
    render(b, d, w);
    if (d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE) g_swallow = d[D_END] - len;
  }
  *status = (int)g_io->status;
  return g_io->consumed;
}

/* Feed `in` like the server does: parse, execute (render), keep the rest, append more. Pieces
 * arrive at offsets cut1 (and the rest). An incomplete ms block is waited for. */
static void feed(const char *in, size_t n, size_t cut, uint32_t cap, sbuf *out) {
  uint32_t have = 0;
  size_t sent = 0;
  while (sent < n || have) {
    size_t take = sent < cut ? cut - sent : n - sent;
    if (have + take > sizeof g_win) take = sizeof g_win - have;
    memcpy(g_win + have, in + sent, take);
    have += (uint32_t)take;
    sent += take;
    uint32_t start = 0;
    for (;;) {
      int st = 0;
      long c = parse(g_win, have, start, cap, out, &st);
      if (c < 0) return;
      start = (uint32_t)c;
      if (st == REMC_PS_FULL) continue;
      break;
    }
    if (g_swallow) { /* drop the rest of the window and the next g_swallow input bytes */
      have = 0;
      size_t skip = g_swallow < n - sent ? g_swallow : n - sent;
      sent += skip;
      g_swallow = 0;
    } else {
      memmove(g_win, g_win + start, have - start);
      have -= start;
    }
    if (sent == n) break;
  }
}

static int g_cases;
static void expect(const char *in, const char *want) {
  size_t n = strlen(in);
  sbuf *whole = calloc(1, sizeof(sbuf)), *split = calloc(1, sizeof(sbuf));
  feed(in, n, n, CAP, whole);
  g_cases++;
  CHECK(strcmp(whole->p, want) == 0, "\n  input: %s\n  want:  %s\n  got:   %s", in, want, whole->p);
  for (size_t cut = 1; cut < n; cut++) {
    split->n = 0;
    split->p[0] = 0;
    feed(in, n, cut, cut % 3 ? CAP : 1, split);
    CHECK(strcmp(split->p, whole->p) == 0, "split at %zu: %s\n  whole: %s\n  split: %s", cut, in,
          whole->p, split->p);
  }
  free(whole);
  free(split);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

int main(void) {
  g_io = calloc(1, sizeof(remc_parse_io) + (size_t)CAP * REMC_DESC_WORDS * 4);

  /* ---- mg: flags in request order, numbers, opaque, base64 */
  expect("mg k\r\n", "MG k=k|");                                 /* 1.6.18: HD / EN */
  expect("mg m v f s t k O123\r\n", "MG k=m f=vfstkO O=O123|"); /* VA 2 f3 s2 t-1 km O123 */
  expect("mg k v q\r\nmn\r\n", "MG q k=k f=vq|MN|");
  expect("mg k T30 N-5 R10 c h l u P L\r\n", "MG k=k f=TNRchluPL T=30 N=-5 R=10|");
  expect("mg k   v    t\r\n", "MG k=k f=vt|");
  expect("mg k v\n", "MG k=k f=v|");                               /* bare LF */
  expect("mg Zm9v b k v\r\n", "MG k=Zm9v f=bkv dk=3|");             /* key "foo" */
  expect("mg Zm8= b\r\n", "MG k=Zm8= f=b dk=2|");
  expect("mg Zg== b\r\n", "MG k=Zg== f=b dk=1|");
  expect("mg Z!m9v b\r\n", "MG k=Z!m9v f=b dk=3|"); /* QUIRK: non-base64 bytes are skipped */
  expect("mg AA==BBBB b\r\n", "MG k=AA==BBBB f=b dk=1|"); /* decoding stops at the padded block */
  expect("mg k C18446744073709551615 J5 D7 F4294967295 MI I\r\n",
         "MG k=k f=CJDFMI C=18446744073709551615 J=5 D=7 F=4294967295 M=I|");
  expect("mg k Oabcdefghijklmnopqrstuvwxyz01234567890\r\n", /* length is checked by root */
         "MG k=k f=O O=Oabcdefghijklmnopqrstuvwxyz01234567890|");
  expect("mg k v\tc\r\n", "MG k=k f=v|"); /* TAB is part of the token "v\tc" */

  /* ---- mg errors (§3 rows among them) */
  expect("mg\r\n", "MG:ERROR|");
  expect("mg k Fabc\r\n", "MG:BAD_FORMAT|"); /* CVE-2020-22570: CLIENT_ERROR bad command line format */
  expect("mg k a b c d e f g h i j k l m n o p q r s t u\r\n", "MG:FLAGS_TOO_LONG_MG|");
  /* 17 flags: VA 0 f0 s0 t-1 c4 h0 l0 O1 kk W; 18: CLIENT_ERROR options flags are too long */
  expect("mg k v f s t c h l O1 k q u P L T1 N1 R1 I\r\n",
         "MG q k=k f=vfstchlOkquPLTNRI T=1 N=1 R=1 O=O1|");
  expect("mg k v f s t c h l O1 k q u P L T1 N1 R1 I C1\r\n", "MG:FLAGS_TOO_LONG_MG|");
  expect("mg k v f s t c h l O1 k k\r\n", "MG:DUP_FLAG|");
  expect("mg k v f s t c h l O1 q u P L T1 N1 R1 I\r\n",
         "MG q k=k f=vfstchlOquPLTNRI T=1 N=1 R=1 O=O1|");
  expect("mg k !\r\n", "MG:INVALID_FLAG|");
  expect("mg k v v\r\n", "MG:DUP_FLAG|");
  expect("mg k v \x80\r\n", "MG:DUP_FLAG|"); /* QUIRK: a flag byte >= 127 is a "duplicate" */
  expect("mg k Tx\r\n", "MG:BAD_TOKEN|");
  expect("mg k T\r\n", "MG:BAD_TOKEN|");
  expect("mg k Cx\r\n", "MG:BAD_TOKEN|");
  expect("mg k Mxx\r\n", "MG:M_LENGTH|");
  expect("mg k Jx\r\n", "MG:INVALID_INITIAL|");
  expect("mg k Dx\r\n", "MG:INVALID_DELTA|");
  expect("mg k Jx Dx\r\n", "MG:INVALID_DELTA|");  /* the last message wins */
  expect("mg k Dx Fx\r\n", "MG:INVALID_DELTA|");  /* F keeps the previous message */
  expect("mg k Tx !\r\n", "MG:INVALID_FLAG|");    /* unknown stops the pass */
  expect("mg k ! Tx\r\n", "MG:INVALID_FLAG|");
  expect("mg ! b\r\n", "MG:DECODE_KEY|");          /* §3: mg <bad base64> b */
  expect("mg abc b\r\n", "MG:DECODE_KEY|");
  expect("mg ==== b\r\n", "MG:DECODE_KEY|");
  expect("mg A=== b\r\n", "MG:DECODE_KEY|");
  {
    char line[400];
    memset(line, 0, sizeof line);
    strcpy(line, "mg ");
    memset(line + 3, 'k', 251);
    strcpy(line + 254, " v\r\n");
    expect(line, "MG:BAD_FORMAT|");
    line[253] = ' '; /* a 250-byte key */
    char want[300] = "MG k=";
    memset(want + 5, 'k', 250);
    strcpy(want + 255, " f=v|");
    expect(line, want);
  }

  /* ---- ms: data block framing, swallowing after flag errors */
  expect("ms k 2\r\nhi\r\n", "MS k=k d=hi|");
  expect("ms k 2 T30 F5 c k O9 q MS I C77\r\nhi\r\n", "MS q k=k d=hi f=TFckOqMIC C=77 T=30 F=5 O=O9 M=S|");
  expect("ms k 0\r\n\r\nmn\r\n", "MS k=k d=|MN|");
  expect("ms k 2\r\nhix\r\n", "MS:BAD_DATA_CHUNK k=k d=hi|UNKNOWN|"); /* then "\n": ERROR */
  expect("ms k 2\r\nh", ""); /* waits for the block */
  expect("ms\r\n", "MS:ERROR|");
  expect("ms k\r\n", "MS:BAD_FORMAT|");
  expect("ms k x\r\nhi\r\n", "MS:BAD_FORMAT|UNKNOWN|");          /* no swallow: "hi" is a command */
  expect("ms k -1\r\n", "MS:BAD_FORMAT|");
  expect("ms k 2147483646\r\n", "MS:BAD_FORMAT|");
  expect("ms k 2 !\r\nhi\r\nmn\r\n", "MS:INVALID_FLAG swallow=4|MN|");  /* swallowed */
  expect("ms k 2 Tx\r\nhi\r\nmn\r\n", "MS:BAD_TOKEN swallow=4|MN|");
  expect("ms ! 2 b\r\nhi\r\nmn\r\n", "MS:DECODE_KEY swallow=4|MN|");
  expect("ms k 5 !\r\nhi", "MS:INVALID_FLAG swallow=7|");
  expect("ms k 2 Fabc\r\nhi\r\n", "MS:BAD_FORMAT swallow=4|");
  expect("ms k 2 MZ\r\nhi\r\n", "MS k=k d=hi f=M M=Z|"); /* mode checked by root */
  expect("ms k 2 a b c d e f g h i j k l m n o p q\r\nhi\r\n", "MS:FLAGS_TOO_LONG|UNKNOWN|");

  /* ---- md, ma: any flag error is "invalid or duplicate flag" */
  expect("md k q I T30 C5 O1 k\r\n", "MD q k=k f=qITCOk C=5 T=30 O=O1|");
  expect("md k Cx\r\n", "MD:INVALID_OR_DUP|");
  expect("md k zz\r\n", "MD:INVALID_OR_DUP|");
  expect("md ! b\r\n", "MD:INVALID_OR_DUP|");
  expect("md\r\n", "MD:ERROR|");
  expect("md k a b c d e f g h i j k l m n o p q r\r\n", "MD:FLAGS_TOO_LONG|");
  expect("ma k N0 J10 D3 MD v t c\r\n", "MA k=k f=NJDMvtc J=10 D=3 M=D|");
  expect("ma k J1a\r\n", "MA:INVALID_OR_DUP|");
  expect("ma k Dx\r\n", "MA:INVALID_OR_DUP|");
  expect("ma k MX\r\n", "MA k=k f=M M=X|");
  expect("ma k Mxx\r\n", "MA:INVALID_OR_DUP|");

  /* ---- mn, me, unknown m-names */
  expect("mn\r\nmn foo bar\r\n", "MN|MN|");
  expect("me k\r\n", "ME k=k|");
  expect("me\r\n", "ME:BAD_FORMAT|");
  expect("me Zm9v b\r\n", "ME k=Zm9v f=b dk=3|");
  expect("me ! b\r\n", "ME:BAD_FORMAT|");
  expect("me k bx\r\n", "ME k=k|");
  expect("me k v b\r\n", "ME k=k|"); /* b must be the 3rd token */
  expect("mz k\r\nmget k\r\n", "UNKNOWN|UNKNOWN|");

  /* ---- mixed pipelines with text commands */
  expect("get a\r\nmg a v\r\nset a 0 0 1\r\nx\r\nms b 1\r\ny\r\nmn\r\n", "GET|MG k=a f=v|SET|MS k=b d=y|MN|");

  /* ---- hostile: random mutations must validate (CHECK in parse) and never read outside */
  static const char *const seeds[] = {
      "mg k v f s t k O123 c h l u q\r\n", "ms k 5 T30 F1 MA C9 I b\r\nhello\r\n",
      "md Zm9v b q I T5 C1 O\r\n",        "ma k N1 J2 D3 M- v t c k O1\r\n",
      "me Zm9v b\r\nmn\r\n",               "mg Zm9v= b k\r\nms k 0\r\n\r\n"};
  for (int it = 0; it < 200000; it++) {
    char buf[256];
    const char *s = seeds[rnd(sizeof seeds / sizeof *seeds)];
    size_t n = strlen(s);
    memcpy(buf, s, n);
    int muts = 1 + (int)rnd(4);
    for (int m = 0; m < muts; m++) {
      if (n == 0) break;
      uint32_t k = rnd(4), at = rnd((uint32_t)n);
      if (k == 0) buf[at] = (char)rnd(256);
      else if (k == 1) buf[at] = " bqvkOTNCFMJD=\r\n"[rnd(16)];
      else if (k == 2 && n < 200) {
        memmove(buf + at + 3, buf + at, n - at);
        memcpy(buf + at, " O1", 3);
        n += 3;
      } else n = at;
    }
    uint8_t *w = malloc(n ? n : 1); /* exact size: ASan sees any read past the window */
    memcpy(w, buf, n);
    sbuf *b = calloc(1, sizeof(sbuf));
    int st;
    uint32_t start = 0;
    for (int guard = 0; guard < 100; guard++) {
      long c = parse(w, (uint32_t)n, start, 1 + rnd(4), b, &st);
      if (c < 0 || st != REMC_PS_FULL) break;
      start = (uint32_t)c;
      b->n = 0;
    }
    free(b);
    free(w);
  }

  /* ---- root never trusts the parser (DESIGN invariant 2): forged meta descriptors are refused */
  {
    static const char *const lines[] = {"mg k v k O123 T30 q\r\n", "ms Zm9v 2 b c MS F5\r\nhi\r\n",
                                        "md k I C5\r\n", "ma k N0 J1 D2 MD\r\n", "me k\r\n", "mn\r\n"};
    for (size_t li = 0; li < sizeof lines / sizeof *lines; li++) {
      const char *in = lines[li];
      uint32_t len = (uint32_t)strlen(in);
      remc_parse_req req = {0};
      req.len = len, req.desc_cap = CAP;
      uint32_t saved[REMC_DESC_WORDS];
      remc_parse_io_prepare(g_io, &req, 0);
      remc_parse(g_io, (const uint8_t *)in);
      CHECK(g_io->ndesc == 1 && remc_validate(g_io, &req, len) == 0, "valid: %s", in);
      memcpy(saved, g_io->desc, sizeof saved);
      uint32_t *d = g_io->desc;
      const uint32_t op = d[D_OP];
#define FORGED(what, ...)                                                            \
  do {                                                                               \
    memcpy(d, saved, sizeof saved);                                                  \
    __VA_ARGS__;                                                                     \
    CHECK(remc_validate(g_io, &req, len) != 0, "forged %s accepted for %s", what, in); \
  } while (0)
      FORGED("err out of range", d[D_ERR] = REMC_MERR_COUNT);
      FORGED("unknown flag bit", d[D_FLAGS] |= REMC_DF_LAST_KEY);
      FORGED("end past the window", d[D_END] = len + 1);
      FORGED("start after end", d[D_START] = d[D_END]);
      FORGED("word 31 set", d[31] = 1);
      FORGED("word 30 set", d[30] = 7);
      if (op == REMC_OP_MN) {
        FORGED("mn with a key", d[D_KEY_OFF] = 3, d[D_KEY_LEN] = 1);
        FORGED("mn with flags", d[D_M_NFLAGS] = 1, d[D_M_FLAGS0] = 'v');
        continue;
      }
      FORGED("key outside the line", d[D_KEY_OFF] = len - 1, d[D_KEY_LEN] = 5);
      FORGED("key of 251", d[D_KEY_LEN] = 251);
      FORGED("no key", d[D_KEY_LEN] = 0);
      FORGED("too many flags", d[D_M_NFLAGS] = REMC_META_FLAGS_MAX + 1);
      FORGED("a letter past nflags", d[D_M_FLAGS4] = 'v');
      FORGED("unknown letter", d[D_M_FLAGS0] = (d[D_M_FLAGS0] & ~0xffu) | 'x', d[D_M_NFLAGS] |= 1);
      FORGED("noreply without q", d[D_FLAGS] ^= REMC_DF_NOREPLY);
      FORGED("a number without its flag", d[D_M_RECACHE] = 5);
      FORGED("a mode without M, or not a byte", d[D_M_MODE] = op == REMC_OP_MS || op == REMC_OP_MA ? 0x100 : 'I');
      FORGED("a decoded length without b", d[D_M_KEY_DLEN] = op == REMC_OP_MS ? 99 : 1);
      if (op == REMC_OP_MG) {
        FORGED("duplicate letter", d[D_M_FLAGS0] = 'v' | 'v' << 8);
        FORGED("opaque outside the line", d[D_M_OPAQUE_OFF] = len);
        /* letters v k O T q: O becomes c, the opaque words stay */
        FORGED("opaque without O", d[D_M_FLAGS0] = (d[D_M_FLAGS0] & ~0xff0000u) | (uint32_t)'c' << 16);
        FORGED("an empty opaque", d[D_M_OPAQUE_LEN] = 0);
        FORGED("data on mg", d[D_DATA_OFF] = d[D_END] - 1, d[D_DATA_LEN] = 0);
        FORGED("incomplete on mg", d[D_FLAGS] |= REMC_DF_DATA_INCOMPLETE);
        FORGED("an ms error on mg", d[D_ERR] = REMC_MERR_BAD_DATA_CHUNK);
      }
      if (op == REMC_OP_MS) {
        FORGED("data length off by one", d[D_DATA_LEN]++);
        FORGED("data inside the line", d[D_DATA_OFF] = d[D_START]);
        FORGED("ms without data", d[D_DATA_OFF] = 0, d[D_DATA_LEN] = 0);
        FORGED("decoded key longer than 3/4", d[D_M_KEY_DLEN] = 4);
        FORGED("incomplete but complete", d[D_FLAGS] |= REMC_DF_DATA_INCOMPLETE);
      }
      if (op == REMC_OP_ME) FORGED("me with another flag", d[D_M_FLAGS0] = 'v', d[D_M_NFLAGS] = 1);
      if (op == REMC_OP_MD || op == REMC_OP_MA) FORGED("a message md/ma never send", d[D_ERR] = REMC_MERR_DUP_FLAG);
#undef FORGED
    }
    /* random forgeries: whatever is accepted still points inside the window */
    for (int it = 0; it < 300000; it++) {
      const char *in = lines[rnd(sizeof lines / sizeof *lines)];
      uint32_t len = (uint32_t)strlen(in);
      remc_parse_req req = {0};
      req.len = len, req.desc_cap = CAP;
      remc_parse_io_prepare(g_io, &req, 0);
      remc_parse(g_io, (const uint8_t *)in);
      uint32_t *d = g_io->desc;
      for (int k = 1 + (int)rnd(3); k > 0; k--) {
        uint32_t w = rnd(REMC_DESC_WORDS), v = rnd(6);
        d[w] = v == 0 ? 0 : v == 1 ? d[w] + 1 : v == 2 ? d[w] - 1 : v == 3 ? len : v == 4 ? 0xffffffffu : rnd(len + 2);
      }
      if (remc_validate(g_io, &req, len) != 0) continue;
      uint32_t s0 = d[D_START], e0 = d[D_END];
      CHECK(s0 < e0 && e0 <= len, "accepted range [%u,%u) of %u", s0, e0, len);
      CHECK((uint64_t)d[D_KEY_OFF] + d[D_KEY_LEN] <= e0 && (d[D_KEY_LEN] == 0 || d[D_KEY_OFF] >= s0), "accepted key");
      CHECK((uint64_t)d[D_DATA_OFF] + d[D_DATA_LEN] <= e0, "accepted data");
      if (d[D_OP] < REMC_OP_MG) continue; /* a text op: root never reads words 16.. */
      CHECK((uint64_t)d[D_M_OPAQUE_OFF] + d[D_M_OPAQUE_LEN] <= e0, "accepted opaque");
      CHECK(d[D_M_NFLAGS] <= REMC_META_FLAGS_MAX, "accepted nflags");
    }
  }

  printf("meta_test: %d cases, %d checks, %d failures\n", g_cases, checks, failures);
  return failures != 0;
}
