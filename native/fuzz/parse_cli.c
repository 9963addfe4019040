/*
 * parse_cli.c — stdin bytes -> the parser's descriptors, one line each, as the server would get
 * them (one window, looping over FULL). Used by diff_memcached.py.
 *   line: op err flags start end key_off key_len data_off data_len n0 n1 n2 aux
 *   last: "status <status> <consumed> <close_reason>"
 */
#include <stdio.h>
#include <stdlib.h>

#include "remc_abi.h"

void remc_fault_inject(remc_parse_io *io, uint32_t kind) {
  (void)io;
  (void)kind;
}

int main(int argc, char **argv) {
  uint32_t cap = argc > 1 ? (uint32_t)atoi(argv[1]) : 64;
  size_t size = 1 << 20, len = 0;
  uint8_t *w = malloc(size);
  size_t k;
  while ((k = fread(w + len, 1, size - len, stdin)) > 0) {
    len += k;
    if (len == size) w = realloc(w, size *= 2);
  }
  remc_parse_io *io = calloc(1, sizeof(remc_parse_io) + (size_t)cap * REMC_DESC_WORDS * 4);
  remc_parse_req req = {.len = (uint32_t)len, .desc_cap = cap};
  for (;;) {
    remc_parse_io_prepare(io, &req, 0);
    remc_parse(io, w);
    int v = remc_validate(io, &req, (uint32_t)len);
    if (v) {
      printf("invalid %d\n", v);
      return 1;
    }
    for (uint32_t i = 0; i < io->ndesc; i++) {
      const uint32_t *d = io->desc + (size_t)i * REMC_DESC_WORDS;
      printf("%u %u %u %u %u %u %u %u %u %llu %lld %llu %u\n", d[D_OP], d[D_ERR], d[D_FLAGS],
             d[D_START], d[D_END], d[D_KEY_OFF], d[D_KEY_LEN], d[D_DATA_OFF], d[D_DATA_LEN],
             (unsigned long long)d[D_N0_LO] | (unsigned long long)d[D_N0_HI] << 32,
             (long long)((unsigned long long)d[D_N1_LO] | (unsigned long long)d[D_N1_HI] << 32),
             (unsigned long long)d[D_N2_LO] | (unsigned long long)d[D_N2_HI] << 32, d[D_AUX]);
    }
    if (io->status != REMC_PS_FULL) break;
    req.start = io->consumed;
    req.resume_off = io->out_resume_off;
    req.resume_end = io->out_resume_off ? io->desc[(size_t)(io->ndesc - 1) * REMC_DESC_WORDS + D_END] : 0;
  }
  printf("status %u %u %u\n", io->status, io->consumed, io->close_reason);
  free(io);
  free(w);
  return 0;
}
