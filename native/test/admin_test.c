// sources: native/parser/[!f]*.c native/binding/validate*.c
/*
 * admin_test.c — the admin commands' descriptors (remc_abi.h "Admin descriptors"): slabs, lru,
 * lru_crawler, watch, extstore, refresh_certs reach root as one descriptor with their argument
 * tokens; root's validator accepts exactly what the parser can produce and refuses token
 * offsets/lengths outside the line, out of order, or left over past the token count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remc_abi.h"

void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  (void)kind;
}

static int failures, checks;
#define CHECK(c, ...)                                              \
  do {                                                             \
    checks++;                                                      \
    if (!(c)) {                                                    \
      failures++;                                                  \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
      fprintf(stderr, __VA_ARGS__);                                \
      fputc('\n', stderr);                                         \
    }                                                              \
  } while (0)

#define CAP 8
static remc_parse_io *io;
static remc_parse_req req;

static int parse(const char *in) {
  static uint8_t win[4096];
  uint32_t len = (uint32_t)strlen(in);
  memcpy(win, in, len);
  memset(&req, 0, sizeof req);
  req.len = len;
  req.desc_cap = CAP;
  remc_parse_io_prepare(io, &req, 0);
  remc_parse(io, win);
  return remc_validate(io, &req, sizeof win);
}

/* The i-th argument token of descriptor 0 as a string (static buffer). */
static const char *tok(const char *in, uint32_t i) {
  static char b[256];
  uint32_t o = io->desc[D_A_TOK + 2 * i], l = io->desc[D_A_TOK + 2 * i + 1];
  snprintf(b, sizeof b, "%.*s", (int)l, in + o);
  return b;
}

static void test_tokens(void) {
  struct {
    const char *in;
    uint32_t op, aux, noreply;
    const char *toks[9];
  } t[] = {
      {"slabs reassign 1 2\r\n", REMC_OP_SLABS, 4, 0, {"reassign", "1", "2"}},
      {"slabs  automove   x noreply\r\n", REMC_OP_SLABS, 4, 1, {"automove", "x", "noreply"}},
      {"lru\r\n", REMC_OP_LRU, 1, 0, {0}},
      {"lru mode\n", REMC_OP_LRU, 2, 0, {"mode"}}, /* CVE-2019-11596: the missing argument */
      {"lru temp_ttl\r\n", REMC_OP_LRU, 2, 0, {"temp_ttl"}},
      {"lru tune 10 25 0.1 2\r\n", REMC_OP_LRU, 6, 0, {"tune", "10", "25", "0.1", "2"}},
      {"lru_crawler metadump all\r\n", REMC_OP_LRU_CRAWLER, 3, 0, {"metadump", "all"}},
      {"watch fetchers mutations\r\n", REMC_OP_WATCH, 3, 0, {"fetchers", "mutations"}},
      {"extstore\r\n", REMC_OP_EXTSTORE, 1, 0, {0}},
      {"refresh_certs x\r\n", REMC_OP_REFRESH_CERTS, 2, 0, {"x"}},
      /* more than 8 arguments: the first 8 are passed, D_AUX counts them all */
      {"lru a b c d e f g h i j\r\n", REMC_OP_LRU, 11, 0, {"a", "b", "c", "d", "e", "f", "g", "h"}},
      /* a TAB is part of a token; NUL ends the line */
      {"watch a\tb\r\n", REMC_OP_WATCH, 2, 0, {"a\tb"}},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int v = parse(t[i].in);
    CHECK(v == 0, "%s: validate %d", t[i].in, v);
    CHECK(io->ndesc == 1 && io->desc[D_OP] == t[i].op, "%s: op %u", t[i].in, io->desc[D_OP]);
    CHECK(io->desc[D_AUX] == t[i].aux, "%s: aux %u", t[i].in, io->desc[D_AUX]);
    CHECK(!!(io->desc[D_FLAGS] & REMC_DF_NOREPLY) == t[i].noreply, "%s: noreply", t[i].in);
    for (uint32_t k = 0; k < REMC_ADMIN_TOKENS_MAX; k++) {
      if (t[i].toks[k]) CHECK(strcmp(tok(t[i].in, k), t[i].toks[k]) == 0, "%s: token %u '%s'", t[i].in, k, tok(t[i].in, k));
      else CHECK(io->desc[D_A_TOK + 2 * k] == 0 && io->desc[D_A_TOK + 2 * k + 1] == 0, "%s: pair %u not 0", t[i].in, k);
    }
  }
  /* upper case and prefixes are not admin commands */
  const char *no[] = {"SLABS reassign 1 2\r\n", "lru_crawle x\r\n", "lrux\r\n", "watchx\r\n", "refresh_cert\r\n"};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
    CHECK(parse(no[i]) == 0 && io->desc[D_OP] == REMC_OP_UNKNOWN, "%s: not unknown", no[i]);
  }
  /* stale words from an earlier call are cleared: a long line, then a short one in the same io */
  parse("lru a b c d e f g h\r\n");
  CHECK(parse("lru a\r\n") == 0 && io->desc[D_A_TOK + 2] == 0 && io->desc[D_A_TOK + 3] == 0, "stale pair");
}

/* A subverted parser: every token word and D_AUX mutated must be refused, never accepted
 * pointing outside the line. */
static void test_validator(void) {
  const char *in = "lru tune 10 25 0.1 2\r\nversion\r\n";
  const uint32_t mut[] = {0, 1, 3, 20, 21, 22, 23, 31, 0xffffffffu, 0x80000000u};
  for (uint32_t w = D_A_TOK; w < REMC_DESC_WORDS; w++) {
    for (size_t m = 0; m < sizeof mut / sizeof mut[0]; m++) {
      CHECK(parse(in) == 0, "base");
      uint32_t old = io->desc[w];
      if (old == mut[m]) continue;
      io->desc[w] = mut[m];
      if (remc_validate(io, &req, 4096) == 0) {
        /* accepted: then every used pair lies inside the first line, in order */
        uint32_t e = io->desc[D_END], from = 1;
        for (uint32_t k = 0; k < 5; k++) {
          uint32_t o = io->desc[D_A_TOK + 2 * k], l = io->desc[D_A_TOK + 2 * k + 1];
          CHECK(l >= 1 && o >= from && o + l <= e, "word %u = %u accepted out of line", w, mut[m]);
          from = o + l + 1;
        }
        for (uint32_t k = 5; k < REMC_ADMIN_TOKENS_MAX; k++)
          CHECK(io->desc[D_A_TOK + 2 * k] == 0 && io->desc[D_A_TOK + 2 * k + 1] == 0,
                "word %u = %u: pair %u past the count accepted", w, mut[m], k);
      }
    }
  }
  const uint32_t aux[] = {0, 25, 0xffffffffu};
  for (size_t m = 0; m < 3; m++) {
    parse(in);
    io->desc[D_AUX] = aux[m];
    CHECK(remc_validate(io, &req, 4096) != 0, "aux %u accepted", aux[m]);
  }
  parse(in);
  io->desc[D_N0_LO] = 1;
  CHECK(remc_validate(io, &req, 4096) == REMC_V_NUMBER, "number accepted");
  parse(in);
  io->desc[D_KEY_OFF] = 4, io->desc[D_KEY_LEN] = 4;
  CHECK(remc_validate(io, &req, 4096) != 0, "key accepted");
  parse(in);
  io->desc[D_FLAGS] = REMC_DF_HAS_ARG;
  CHECK(remc_validate(io, &req, 4096) != 0, "flag accepted");
}

int main(void) {
  io = calloc(1, sizeof(remc_parse_io) + (size_t)CAP * REMC_DESC_WORDS * 4);
  test_tokens();
  test_validator();
  printf("admin_test: %d checks, %d failures\n", checks, failures);
  return failures != 0;
}
