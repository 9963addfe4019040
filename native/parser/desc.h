/*
 * desc.h — writing one descriptor (remc_abi.h), shared by the parsers (text.c, binary.c).
 * Domain code: included, inlined, no data.
 */
#ifndef REMC_PARSER_DESC_H
#define REMC_PARSER_DESC_H

#include "remc_abi.h"
#include "budget.h"

#if defined(__GNUC__) && !defined(__clang__)
/* Every parser file includes this first, so this holds for all domain code: no SSE. gcc's SLP
 * vectorizer would otherwise build descriptor words from constant-pool vectors (.rodata.cst8),
 * unreadable in pku-strict; and the domain never touches vector state. */
#pragma GCC target("general-regs-only")
#endif

/* The text words 0..15 of one descriptor. Words 16.. (meta/binary) are left alone. */
static inline __attribute__((always_inline)) void emit(
    uint32_t *d, uint32_t op, uint32_t err, uint32_t flags, uint32_t start, uint32_t end,
    uint32_t koff, uint32_t klen, uint32_t doff, uint32_t dlen, uint64_t n0, uint64_t n1,
    uint64_t n2, uint32_t aux) {
  d[D_OP] = op;
  d[D_ERR] = err;
  d[D_FLAGS] = flags;
  d[D_START] = start;
  d[D_END] = end;
  d[D_KEY_OFF] = koff;
  d[D_KEY_LEN] = klen;
  d[D_DATA_OFF] = doff;
  d[D_DATA_LEN] = dlen;
  d[D_N0_LO] = (uint32_t)n0;
  d[D_N0_HI] = (uint32_t)(n0 >> 32);
  d[D_N1_LO] = (uint32_t)n1;
  d[D_N1_HI] = (uint32_t)(n1 >> 32);
  d[D_N2_LO] = (uint32_t)n2;
  d[D_N2_HI] = (uint32_t)(n2 >> 32);
  d[D_AUX] = aux;
}

#endif
