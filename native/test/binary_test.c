// sources: native/parser/[!f]*.c native/binding/validate*.c
/*
 * binary_test.c — the binary protocol parser (native/parser/binary.c, through remc_parse with
 * REMC_IN_BINARY) and its root-side check (native/binding/validate_binary.c):
 *   - memcached 1.6.18's framing and header rules, packet by packet (expected descriptors);
 *   - every output validates; the same pipeline parsed at every prefix length, and with every
 *     descriptor-area size, gives the same descriptors (a packet is never half-reported);
 *   - the validator rejects descriptors a correct parser cannot produce (tampered fields).
 * The byte-exact replies are checked against memcached itself in test/compare/binary*.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remc_abi.h"

void remc_fault_inject(remc_parse_io *io, uint32_t kind) { (void)io; (void)kind; }

static int failures;
#define CHECK(c, ...)                                              \
  do {                                                             \
    if (!(c)) {                                                    \
      failures++;                                                  \
      fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #c);      \
      fprintf(stderr, __VA_ARGS__);                                \
      fputc('\n', stderr);                                         \
    }                                                              \
  } while (0)

#define CAP 64
static remc_parse_io *io;
static uint8_t win[1 << 20];

static size_t pkt(uint8_t *o, uint8_t op, const char *key, size_t kl, const uint8_t *ext, size_t el,
                  const char *val, size_t vl, uint32_t bodylen_override, int use_override) {
  o[0] = 0x80, o[1] = op, o[2] = (uint8_t)(kl >> 8), o[3] = (uint8_t)kl, o[4] = (uint8_t)el, o[5] = 0;
  o[6] = o[7] = 0;
  uint32_t bl = use_override ? bodylen_override : (uint32_t)(el + kl + vl);
  o[8] = (uint8_t)(bl >> 24), o[9] = (uint8_t)(bl >> 16), o[10] = (uint8_t)(bl >> 8), o[11] = (uint8_t)bl;
  o[12] = 0xde, o[13] = 0xad, o[14] = 0xbe, o[15] = 0xef;
  memset(o + 16, 0, 8);
  size_t n = 24;
  if (el) memcpy(o + n, ext, el), n += el;
  if (kl) memcpy(o + n, key, kl), n += kl;
  if (vl) memcpy(o + n, val, vl), n += vl;
  return n;
}

static int parse(uint32_t len, uint32_t start, uint32_t cap, uint32_t opts) {
  remc_parse_req req = {.len = len, .start = start, .opts = opts | REMC_IN_BINARY, .desc_cap = cap,
                        .heap_size = 0};
  remc_parse_io_prepare(io, &req, 0);
  remc_parse(io, win);
  return remc_validate(io, &req, sizeof win);
}

static const uint32_t *desc(uint32_t i) { return io->desc + (size_t)i * REMC_DESC_WORDS; }

/* One packet alone: status, close reason, error and where it ends. */
static void one(const char *what, size_t n, uint32_t status, uint32_t why, uint32_t ndesc, uint32_t err,
                uint32_t flags) {
  int v = parse((uint32_t)n, 0, CAP, 0);
  CHECK(v == 0, "%s: validate %d", what, v);
  CHECK(io->status == status && io->close_reason == why && io->ndesc == ndesc,
        "%s: status %u why %u ndesc %u", what, io->status, io->close_reason, io->ndesc);
  if (ndesc && io->ndesc) {
    CHECK(desc(0)[D_ERR] == err, "%s: err %u", what, desc(0)[D_ERR]);
    CHECK(desc(0)[D_FLAGS] == flags, "%s: flags %u", what, desc(0)[D_FLAGS]);
  }
}

static void rules(void) {
  static const uint8_t e8[8], e20[20], e4[4], e255[255];
  size_t n;
  n = pkt(win, REMC_BIN_GET, "k", 1, 0, 0, 0, 0, 0, 0);
  one("get", n, REMC_PS_OK, 0, 1, REMC_BERR_NONE, 0);
  CHECK(desc(0)[D_KEY_OFF] == 24 && desc(0)[D_KEY_LEN] == 1 && desc(0)[D_END] == 25 && io->consumed == 25, "get fields");
  CHECK(desc(0)[DB_OPAQUE] == 0xdeadbeef, "opaque");
  one("get, 23 bytes", 23, REMC_PS_OK, 0, 0, 0, 0);
  CHECK(io->consumed == 0, "nothing consumed");
  one("get, key missing", 24, REMC_PS_OK, 0, 0, 0, 0);
  n = pkt(win, REMC_BIN_SET, "k", 1, e8, 8, "hello", 5, 0, 0);
  one("set", n, REMC_PS_OK, 0, 1, REMC_BERR_NONE, 0);
  CHECK(desc(0)[D_DATA_OFF] == 33 && desc(0)[D_DATA_LEN] == 5 && desc(0)[D_END] == 38, "set value");
  one("set, value short", n - 2, REMC_PS_OK, 0, 1, REMC_BERR_NONE, REMC_DF_DATA_INCOMPLETE);
  CHECK(io->consumed == 0 && desc(0)[D_END] == 38, "incomplete set");
  win[0] = 0x81;
  one("bad magic", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_SILENT, 0, 0, 0);
  n = pkt(win, REMC_BIN_GET, "xxxxxxxxxx", 10, 0, 0, 0, 0, 0, 1);
  one("keylen > bodylen", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_FRAMING, 0);
  one("keylen > bodylen, key not in yet", n - 1, REMC_PS_OK, 0, 0, 0, 0);
  n = pkt(win, REMC_BIN_SET, "kkkkk", 5, e8, 8, 0, 0, 10, 1);
  one("keylen + extlen > bodylen", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_FRAMING, 0);
  n = pkt(win, REMC_BIN_ADDQ, "k", 1, e8, 8, 0, 0, 0xffffffe8u, 1);
  one("bodylen 0xffffffe8", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_BODY_TOO_LARGE, 0);
  n = pkt(win, 0x55, 0, 0, 0, 0, 0, 0, 0x80000000u, 1);
  one("unknown, bodylen 2 GiB", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_BODY_TOO_LARGE, 0);
  n = pkt(win, 0x55, 0, 0, 0, 0, 0, 0, 1u << 30, 1);
  one("unknown, bodylen 1 GiB: swallowed", n, REMC_PS_OK, 0, 1, REMC_BERR_UNKNOWN, REMC_DF_DATA_INCOMPLETE);
  static char k251[251];
  memset(k251, 'k', sizeof k251);
  n = pkt(win, REMC_BIN_GET, k251, 251, 0, 0, 0, 0, 0, 0);
  one("keylen 251", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_KEY_TOO_LONG, 0);
  n = pkt(win, REMC_BIN_GET, "k", 1, e255, 255, 0, 0, 0, 0);
  one("get extlen 255", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_ARGS, 0);
  n = pkt(win, REMC_BIN_SET, "k", 1, 0, 0, "v", 1, 0, 0);
  one("set extlen 0", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_ARGS, 0);
  n = pkt(win, REMC_BIN_INCREMENT, "k", 1, 0, 0, 0, 0, 0, 0);
  one("incr extlen 0", n, REMC_PS_CLOSE, REMC_CLOSE_BIN_ERROR, 1, REMC_BERR_ARGS, 0);
  n = pkt(win, REMC_BIN_INCREMENT, "k", 1, e20, 20, 0, 0, 0, 0);
  one("incr", n, REMC_PS_OK, 0, 1, REMC_BERR_NONE, 0);
  n = pkt(win, 0x55, "abc", 3, 0, 0, 0, 0, 6, 1);
  one("unknown: bodylen swallowed after the key", n + 6, REMC_PS_OK, 0, 1, REMC_BERR_UNKNOWN, 0);
  CHECK(desc(0)[D_END] == 33, "unknown end %u", desc(0)[D_END]);
  n = pkt(win, REMC_BIN_TOUCH, "k", 1, e4, 4, 0, 0, 29, 1);
  one("touch: surplus body is the next packet", n, REMC_PS_OK, 0, 1, REMC_BERR_NONE, 0);
  CHECK(desc(0)[D_END] == 29, "touch end");
  n = pkt(win, REMC_BIN_QUIT, 0, 0, 0, 0, 0, 0, 0, 0);
  n += pkt(win + n, REMC_BIN_NOOP, 0, 0, 0, 0, 0, 0, 0, 0);
  one("quit stops parsing", n, REMC_PS_CLOSE, REMC_CLOSE_QUIT, 1, REMC_BERR_NONE, 0);
  n = pkt(win, REMC_BIN_DEBUG_FAULT, 0, 0, e4, 4, 0, 0, 0, 0);
  one("0xef without fault injection: unknown (its body swallowed again)", n, REMC_PS_OK, 0, 1, REMC_BERR_UNKNOWN, REMC_DF_DATA_INCOMPLETE);
  int v = parse((uint32_t)n, 0, CAP, REMC_IN_FAULT_INJECTION);
  CHECK(v == 0 && io->ndesc == 1 && desc(0)[D_ERR] == REMC_BERR_NONE, "0xef with fault injection");
}

/* A pipeline: every prefix, every descriptor-area size, same descriptors as in one piece. */
static size_t pipeline(void) {
  static const uint8_t e8[8], e20[20], e4[4];
  size_t n = 0;
  n += pkt(win + n, REMC_BIN_SET, "key1", 4, e8, 8, "value", 5, 0, 0);
  n += pkt(win + n, REMC_BIN_GETK, "key1", 4, 0, 0, 0, 0, 0, 0);
  n += pkt(win + n, REMC_BIN_INCREMENT, "n", 1, e20, 20, 0, 0, 0, 0);
  n += pkt(win + n, 0x55, "abc", 3, 0, 0, 0, 0, 5, 1);
  memcpy(win + n, "ZZZZZ", 5), n += 5;
  n += pkt(win + n, REMC_BIN_GAT, "key1", 4, e4, 4, 0, 0, 0, 0);
  n += pkt(win + n, REMC_BIN_APPENDQ, "key1", 4, 0, 0, "++", 2, 0, 0);
  n += pkt(win + n, REMC_BIN_STAT, "items", 5, 0, 0, 0, 0, 0, 0);
  n += pkt(win + n, REMC_BIN_NOOP, 0, 0, 0, 0, 0, 0, 0, 0);
  return n;
}

typedef struct { uint32_t op, err, s, e, ko, kl, dof, dl; } rec;

/* Parse [0, len) as a connection would: FULL resumes at consumed; returns records. */
static uint32_t run(uint32_t len, uint32_t cap, rec *out, uint32_t *consumed, int *incomplete) {
  uint32_t start = 0, n = 0;
  *incomplete = 0;
  for (;;) {
    int v = parse(len, start, cap, 0);
    CHECK(v == 0, "len %u cap %u: validate %d", len, cap, v);
    for (uint32_t i = 0; i < io->ndesc; i++) {
      const uint32_t *d = desc(i);
      if (d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE) { *incomplete = 1; continue; }
      out[n++] = (rec){d[D_OP], d[D_ERR], d[D_START], d[D_END], d[D_KEY_OFF], d[D_KEY_LEN], d[D_DATA_OFF], d[D_DATA_LEN]};
    }
    if (io->status != REMC_PS_FULL) break;
    start = io->consumed;
  }
  *consumed = io->consumed;
  return n;
}

static void splits(void) {
  uint32_t total = (uint32_t)pipeline();
  rec whole[32], part[32];
  uint32_t c0, c1;
  int inc;
  uint32_t nw = run(total, CAP, whole, &c0, &inc);
  CHECK(nw == 8 && c0 == total && !inc, "whole pipeline: %u descriptors, consumed %u of %u", nw, c0, total);
  for (uint32_t cap = 1; cap <= 9; cap++) {
    uint32_t np = run(total, cap, part, &c1, &inc);
    CHECK(np == nw && memcmp(part, whole, nw * sizeof(rec)) == 0, "cap %u differs", cap);
  }
  for (uint32_t len = 0; len <= total; len++) {
    uint32_t np = run(len, CAP, part, &c1, &inc);
    /* a prefix yields exactly the complete packets before it, never a partial one */
    uint32_t want = 0;
    while (want < nw && whole[want].e <= len) want++;
    CHECK(np == want && memcmp(part, whole, np * sizeof(rec)) == 0, "prefix %u: %u descriptors, want %u", len, np, want);
    CHECK(c1 == (want ? whole[want - 1].e : 0), "prefix %u: consumed %u", len, c1);
  }
}

/* Tampered outputs of a correct parse must be rejected. */
static void tamper(void) {
  uint32_t total = (uint32_t)pipeline();
  remc_parse_req req = {.len = total, .start = 0, .opts = REMC_IN_BINARY, .desc_cap = CAP};
  struct { uint32_t i, w, v; const char *what; } cases[] = {
      {0, D_KEY_OFF, 0, "key offset moved"},           {0, D_KEY_LEN, 300, "key longer than 250"},
      {0, D_DATA_LEN, 6, "value longer than the body"}, {0, D_END, 1000000, "end past the window"},
      {1, D_START, 0, "overlapping packets"},           {1, D_OP, 0x55, "known op as unknown"},
      {2, D_ERR, REMC_BERR_FRAMING, "error that the header does not show"},
      {3, D_ERR, REMC_BERR_NONE, "unknown op without its error"},
      {0, D_FLAGS, REMC_DF_NOREPLY, "text flag"},       {0, D_AUX, 0, "extlen changed"},
      {1, D_N0_LO, 7, "number on a get"},               {0, DB_BODYLEN, 5, "bodylen changed"},
      {2, D_N1_HI, 1, "64-bit exptime"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int v = parse(total, 0, CAP, 0);
    CHECK(v == 0, "baseline");
    io->desc[(size_t)cases[c].i * REMC_DESC_WORDS + cases[c].w] = cases[c].v;
    CHECK(remc_validate(io, &req, sizeof win) != 0, "accepted: %s", cases[c].what);
  }
  /* status tampering */
  parse(total, 0, CAP, 0);
  io->status = REMC_PS_CLOSE;
  CHECK(remc_validate(io, &req, sizeof win) != 0, "accepted: CLOSE without a reason");
  parse(total, 0, CAP, 0);
  io->close_reason = REMC_CLOSE_QUIT, io->status = REMC_PS_CLOSE;
  CHECK(remc_validate(io, &req, sizeof win) != 0, "accepted: QUIT reason without a QUIT");
  parse(total, 0, CAP, 0);
  io->consumed = total - 1;
  CHECK(remc_validate(io, &req, sizeof win) != 0, "accepted: consumed inside a packet");
}

int main(void) {
  io = calloc(1, sizeof(remc_parse_io) + (size_t)CAP * REMC_DESC_WORDS * 4);
  if (!io) return 2;
  rules();
  splits();
  tamper();
  if (failures) { fprintf(stderr, "binary_test: %d failures\n", failures); return 1; }
  printf("binary_test: ok\n");
  return 0;
}
