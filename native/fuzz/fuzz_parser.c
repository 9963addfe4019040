/*
 * fuzz_parser.c — libFuzzer target for the text, meta and binary parsers and the root-side validators.
 *
 * Input: 4 header bytes, then the client's bytes.
 *   [0] opts (REMC_IN_FAULT_INJECTION, REMC_IN_DEBUGTIME)   [1] descriptor area size (1..16, or 256 when >= 0xf0)
 *   [2..3] split point (little endian, modulo len+1)
 * The bytes are parsed twice: in one window (looping over FULL like the server), and as two
 * socket reads split at the chosen point, keeping [consumed, len) and appending the rest, with the
 * chosen descriptor area. Checked on every call: remc_validate() == 0, consumed within the window,
 * FULL always moves (start, resume_off) forward, every key/data byte lies inside the window (the
 * windows are exact-size heap copies, so ASan sees any read past len). Then both runs must yield
 * the same descriptors at the same stream offsets, unless the line-length limit fired (it depends
 * on how bytes arrive, as in memcached).
 *
 * Build and run: native/fuzz/run.sh [seconds]
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remc_abi.h"

/* The real fault injector commits faults; here debug_fault only has to reach the hook. */
void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  (void)kind;
}

#define CAP_MAX 256u
#define REC_WORDS 16

typedef struct {
  uint64_t *r;
  size_t n, cap;
  int line_too_long;
  uint32_t close_reason;
  uint64_t end; /* stream offset where parsing stopped */
} trace;

static remc_parse_io *io_buf(void) {
  static remc_parse_io *io;
  if (!io) io = calloc(1, sizeof(remc_parse_io) + (size_t)CAP_MAX * REMC_DESC_WORDS * 4);
  return io;
}

#define REQUIRE(c) \
  do {             \
    if (!(c)) __builtin_trap(); \
  } while (0)

static volatile uint8_t sink;
static uint32_t g_mut; /* mutation stream, seeded from the input */

/* Corrupt one word of the parser's output the way a subverted parser might: the validator must
 * cope with any value (UBSan watches its arithmetic), and a corrupted offset or length must
 * never be accepted if it points outside the window. */
static void mutate_and_compare(remc_parse_io *io, const remc_parse_req *req, uint32_t len) {
  g_mut = g_mut * 1103515245u + 12345u;
  uint32_t h = g_mut >> 4;
  uint32_t *word;
  if (io->ndesc && (h & 3)) {
    uint32_t words = req->opts & REMC_IN_BINARY ? REMC_DESC_WORDS : D_TEXT_WORDS;
    word = io->desc + (size_t)((h >> 2) % io->ndesc) * REMC_DESC_WORDS + (h >> 10) % words;
  } else {
    static const size_t outs[] = {offsetof(remc_parse_io, status), offsetof(remc_parse_io, consumed),
                                  offsetof(remc_parse_io, ndesc), offsetof(remc_parse_io, out_resume_off),
                                  offsetof(remc_parse_io, heap_used), offsetof(remc_parse_io, close_reason)};
    word = (uint32_t *)((char *)io + outs[(h >> 2) % 6]);
  }
  uint32_t old = *word, v;
  switch ((h >> 16) % 10) {
    case 0: v = 0; break;
    case 1: v = 1; break;
    case 2: v = 0xffffffffu; break;
    case 3: v = old + 1; break;
    case 4: v = old - 1; break;
    case 5: v = len; break;
    case 6: v = len + 1; break;
    case 7: v = 251; break;
    case 8: v = old ^ (1u << ((h >> 20) & 31)); break;
    default: v = g_mut; break;
  }
  *word = v;
  if (remc_validate(io, req, len) == 0) {
    /* accepted: then it must still be inside the window and well-formed */
    for (uint32_t i = 0; i < io->ndesc; i++) {
      const uint32_t *d = io->desc + (size_t)i * REMC_DESC_WORDS;
      REQUIRE((uint64_t)d[D_KEY_OFF] + d[D_KEY_LEN] <= len || d[D_KEY_LEN] == 0);
      if (req->opts & REMC_IN_BINARY) /* a longer key only in a packet answered with an error and closed */
        REQUIRE(d[D_KEY_LEN] <= REMC_KEY_MAX || d[D_ERR] == REMC_BERR_KEY_TOO_LONG ||
                d[D_ERR] == REMC_BERR_FRAMING || d[D_ERR] == REMC_BERR_BODY_TOO_LARGE);
      else
        REQUIRE(d[D_KEY_LEN] <= REMC_KEY_MAX || d[D_OP] == REMC_OP_STATS ||
                d[D_OP] == REMC_OP_SHUTDOWN || d[D_OP] == REMC_OP_DEBUGTIME);
      if (!(d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE))
        REQUIRE((uint64_t)d[D_DATA_OFF] + d[D_DATA_LEN] <= len && d[D_END] <= len);
    }
    REQUIRE(io->consumed <= len && io->ndesc <= req->desc_cap);
  }
  *word = old;
}

/* One parser call over an exact-size copy of buf[0..len); checks and records its descriptors. */
static void call(trace *t, const uint8_t *buf, uint32_t len, uint32_t start, uint32_t resume,
                 uint32_t resume_end, uint32_t opts, uint32_t cap, uint64_t base,
                 remc_parse_io *io) {
  uint8_t *w = malloc(len ? len : 1);
  memcpy(w, buf, len);
  remc_parse_req req = {.len = len, .start = start, .resume_off = resume, .opts = opts,
                        .desc_cap = cap, .resume_end = resume_end, .heap_size = 0};
  memset(io, 0xa5, sizeof *io);
  remc_parse_io_prepare(io, &req, 0);
  remc_parse(io, w);
  REQUIRE(remc_validate(io, &req, len) == 0);
  REQUIRE(io->consumed >= start && io->consumed <= len);
  mutate_and_compare(io, &req, len);
  for (uint32_t i = 0; i < io->ndesc; i++) {
    const uint32_t *d = io->desc + (size_t)i * REMC_DESC_WORDS;
    /* touch every byte root would read: ASan fails on anything outside the window */
    for (uint32_t k = 0; k < d[D_KEY_LEN]; k++) sink ^= w[d[D_KEY_OFF] + k];
    if (!(d[D_FLAGS] & REMC_DF_DATA_INCOMPLETE)) {
      for (uint32_t k = 0; k < d[D_DATA_LEN]; k++) sink ^= w[d[D_DATA_OFF] + k];
      REQUIRE(d[D_END] <= len);
    } else {
      continue; /* not a result yet: it comes again once the data is there */
    }
    if (t->n + REC_WORDS > t->cap) {
      t->cap = t->cap * 2 + 64 * REC_WORDS;
      t->r = realloc(t->r, t->cap * sizeof(uint64_t));
    }
    uint64_t *r = t->r + t->n;
    t->n += REC_WORDS;
    r[0] = d[D_OP];
    r[1] = d[D_ERR];
    r[2] = d[D_FLAGS];
    r[3] = base + d[D_START];
    r[4] = base + d[D_END];
    r[5] = d[D_KEY_LEN] ? base + d[D_KEY_OFF] : 0;
    r[6] = d[D_KEY_LEN];
    r[7] = d[D_DATA_LEN] || d[D_DATA_OFF] ? base + d[D_DATA_OFF] : 0;
    r[8] = d[D_DATA_LEN];
    r[9] = (uint64_t)d[D_N0_LO] | (uint64_t)d[D_N0_HI] << 32;
    r[10] = (uint64_t)d[D_N1_LO] | (uint64_t)d[D_N1_HI] << 32;
    r[11] = (uint64_t)d[D_N2_LO] | (uint64_t)d[D_N2_HI] << 32;
    r[12] = d[D_AUX];
    r[13] = r[14] = r[15] = 0;
  }
  free(w);
}

/* Like the server: feed `first` bytes, then the rest; loop over FULL; drop consumed bytes. */
static void run(trace *t, const uint8_t *in, uint32_t len, uint32_t first, uint32_t opts,
                uint32_t cap) {
  remc_parse_io *io = io_buf();
  uint8_t *pending = malloc(len + 1);
  uint32_t have = 0, fed = 0, start = 0, resume = 0, resume_end = 0, target = first;
  /* the server passes resume_end; half the time, so does this harness (both must agree) */
  const int hint = (first ^ len) & 1;
  uint64_t base = 0;
  for (uint32_t calls = 0;; calls++) {
    REQUIRE(calls < 4 * len + 16); /* FULL must terminate */
    if (fed < target) {
      memcpy(pending + have, in + fed, target - fed);
      have += target - fed;
      fed = target;
    }
    call(t, pending, have, start, resume, resume_end, opts, cap, base, io);
    uint32_t st = io->status, consumed = io->consumed;
    if (st == REMC_PS_CLOSE) {
      t->close_reason = io->close_reason;
      t->line_too_long = io->close_reason == REMC_CLOSE_LINE_TOO_LONG;
      t->end = base + consumed;
      break;
    }
    if (st == REMC_PS_FULL) {
      /* progress: later start, or the same multiget further on */
      REQUIRE(io->ndesc > 0);
      REQUIRE(consumed > start || (io->out_resume_off && io->out_resume_off > resume));
      start = consumed;
      resume = io->out_resume_off;
      resume_end = resume && hint ? io->desc[(size_t)(io->ndesc - 1) * REMC_DESC_WORDS + D_END] : 0;
      continue;
    }
    REQUIRE(st == REMC_PS_OK && io->out_resume_off == 0);
    memmove(pending, pending + consumed, have - consumed);
    have -= consumed;
    base += consumed;
    start = resume = resume_end = 0;
    if (fed == len) {
      t->end = base;
      break;
    }
    target = len;
  }
  free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > (1u << 20)) return 0;
  /* REMC_IN_BINARY selects the binary parser and validator (the seeds named bin-* set it) */
  uint32_t opts = data[0] & (REMC_IN_FAULT_INJECTION | REMC_IN_DEBUGTIME | REMC_IN_BINARY);
  uint32_t cap = data[1] >= 0xf0 ? CAP_MAX : 1u + data[1] % 16u;
  const uint8_t *in = data + 4;
  uint32_t len = (uint32_t)(size - 4);
  uint32_t split = ((uint32_t)data[2] | (uint32_t)data[3] << 8) % (len + 1);
  g_mut = (uint32_t)size * 2654435761u ^ data[2] ^ (uint32_t)data[size - 1] << 8;

  trace whole = {0}, parts = {0};
  run(&whole, in, len, len, opts, CAP_MAX);
  run(&parts, in, len, split, opts, cap);
  if (!whole.line_too_long && !parts.line_too_long) {
    REQUIRE(whole.n == parts.n);
    REQUIRE(whole.n == 0 || memcmp(whole.r, parts.r, whole.n * sizeof(uint64_t)) == 0);
    REQUIRE(whole.close_reason == parts.close_reason);
    REQUIRE(whole.end == parts.end);
  }
  free(whole.r);
  free(parts.r);
  return 0;
}
