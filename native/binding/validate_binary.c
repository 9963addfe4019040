/*
 * validate_binary.c — root's re-check of the binary parser's descriptors (DESIGN.md invariant 2;
 * layout in remc_abi.h, "Binary protocol"). remc_validate hands calls made with REMC_IN_BINARY
 * here. Every field a correct native/parser/binary.c could produce for some input passes; nothing
 * else does. The header fields the descriptor repeats (extlen, keylen, bodylen) are checked for
 * consistency with each other and with the framing rules, so that root never acts on an offset
 * or a length the client could not have sent.
 */
#include "remc_abi.h"

__attribute__((visibility("hidden"))) int remc_validate_binary(const remc_parse_io *io,
                                                               const remc_parse_req *req,
                                                               uint32_t window_cap);

enum { K_UNKNOWN = 0, K_NOBODY, K_FLUSH, K_STORE, K_GET, K_DELETE, K_ARITH, K_CONCAT, K_STAT,
       K_SASL, K_TOUCH, K_FAULT };

static uint32_t kind_of(uint32_t op, uint32_t opts) {
  switch (op) {
    case REMC_BIN_GET: case REMC_BIN_GETQ: case REMC_BIN_GETK: case REMC_BIN_GETKQ: return K_GET;
    case REMC_BIN_SET: case REMC_BIN_ADD: case REMC_BIN_REPLACE: case REMC_BIN_SETQ:
    case REMC_BIN_ADDQ: case REMC_BIN_REPLACEQ: return K_STORE;
    case REMC_BIN_DELETE: case REMC_BIN_DELETEQ: return K_DELETE;
    case REMC_BIN_INCREMENT: case REMC_BIN_DECREMENT: case REMC_BIN_INCREMENTQ:
    case REMC_BIN_DECREMENTQ: return K_ARITH;
    case REMC_BIN_APPEND: case REMC_BIN_PREPEND: case REMC_BIN_APPENDQ: case REMC_BIN_PREPENDQ:
      return K_CONCAT;
    case REMC_BIN_QUIT: case REMC_BIN_QUITQ: case REMC_BIN_NOOP: case REMC_BIN_VERSION:
    case REMC_BIN_SASL_LIST_MECHS: return K_NOBODY;
    case REMC_BIN_FLUSH: case REMC_BIN_FLUSHQ: return K_FLUSH;
    case REMC_BIN_STAT: return K_STAT;
    case REMC_BIN_SASL_AUTH: case REMC_BIN_SASL_STEP: return K_SASL;
    case REMC_BIN_TOUCH: case REMC_BIN_GAT: case REMC_BIN_GATQ: case REMC_BIN_GATK:
    case REMC_BIN_GATKQ: return K_TOUCH;
    case REMC_BIN_DEBUG_FAULT: return (opts & REMC_IN_FAULT_INJECTION) ? K_FAULT : K_UNKNOWN;
    default: return K_UNKNOWN;
  }
}

/* memcached's per-opcode conditions (dispatch_bin_command) */
static int args_ok(uint32_t kind, uint32_t ext, uint32_t kl, uint32_t body) {
  switch (kind) {
    case K_NOBODY: return ext == 0 && kl == 0 && body == 0;
    case K_FLUSH: return kl == 0 && body == ext && (ext == 0 || ext == 4);
    case K_STORE: return ext == 8 && kl != 0 && body >= kl + 8;
    case K_CONCAT: case K_SASL: return kl != 0 && ext == 0;
    case K_GET: case K_DELETE: return ext == 0 && kl > 0 && body == kl;
    case K_ARITH: return kl > 0 && ext == 20 && body == kl + 20;
    case K_STAT: return ext == 0;
    case K_TOUCH: return ext == 4 && kl != 0;
    case K_FAULT: return ext == 4 && kl == 0 && body == 4;
    default: return 1;
  }
}

int remc_validate_binary(const remc_parse_io *io, const remc_parse_req *req, uint32_t window_cap) {
  const uint32_t len = req->len, start = req->start;
  if (start > len || len > window_cap || window_cap > 0x7fffffffu) return REMC_V_REQ;
  const uint32_t status = io->status, consumed = io->consumed, n = io->ndesc;
  const uint32_t why = io->close_reason;
  if (status >= REMC_PS_COUNT || (status == REMC_PS_CLOSE) != (why != REMC_CLOSE_NONE) ||
      !(why == REMC_CLOSE_NONE || why == REMC_CLOSE_QUIT || why == REMC_CLOSE_BIN_SILENT ||
        why == REMC_CLOSE_BIN_ERROR))
    return REMC_V_STATUS;
  if (consumed < start || consumed > len) return REMC_V_CONSUMED;
  if (n > req->desc_cap) return REMC_V_NDESC;
  if (io->heap_used > req->heap_size) return REMC_V_HEAP;
  if (status == REMC_PS_FULL && n == 0) return REMC_V_NO_PROGRESS;
  if (io->out_resume_off) return REMC_V_RESUME;

  uint32_t prev_e = start, incomplete = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t *d = io->desc + (uint64_t)i * REMC_DESC_WORDS;
    const uint32_t op = d[D_OP], err = d[D_ERR], fl = d[D_FLAGS], s = d[D_START], e = d[D_END];
    const uint32_t ko = d[D_KEY_OFF], kl = d[D_KEY_LEN], dof = d[D_DATA_OFF], dl = d[D_DATA_LEN];
    const uint32_t ext = d[D_AUX], body = d[DB_BODYLEN], last = i == n - 1;
    if (op > 0xff) return REMC_V_OP;
    if (err >= REMC_BERR_COUNT) return REMC_V_ERR;
    if (fl & ~REMC_DF_DATA_INCOMPLETE) return REMC_V_FLAGS;
    if (s < prev_e || s > len || len - s < REMC_BIN_HEADER) return REMC_V_ORDER;
    if (ext > 0xff || kl > 0xffff) return REMC_V_KEY;
    const uint32_t kend = s + REMC_BIN_HEADER + ext + kl; /* < 2^31 + 2^17: no overflow */
    if (kend > len) return REMC_V_KEY;
    if (kl ? ko != s + REMC_BIN_HEADER + ext : ko != 0) return REMC_V_KEY;
    const uint32_t framing = kl > body || kl + ext > body;
    const uint32_t kind = kind_of(op, req->opts);

    const uint32_t too_big = body > REMC_BIN_BODY_MAX;
    if (err == REMC_BERR_FRAMING || err == REMC_BERR_BODY_TOO_LARGE ||
        err == REMC_BERR_KEY_TOO_LONG || err == REMC_BERR_ARGS) {
      if (err == REMC_BERR_FRAMING ? !framing
          : err == REMC_BERR_BODY_TOO_LARGE ? framing || !too_big
          : framing || too_big || (err == REMC_BERR_KEY_TOO_LONG) != (kl > REMC_KEY_MAX) ||
                (err == REMC_BERR_ARGS && (kind == K_UNKNOWN || args_ok(kind, ext, kl, body))))
        return REMC_V_ERR;
      if (!last || why != REMC_CLOSE_BIN_ERROR || status != REMC_PS_CLOSE) return REMC_V_STATUS;
      if (fl || e != kend || dof || dl || d[D_N0_LO] || d[D_N0_HI] || d[D_N1_LO] || d[D_N1_HI] ||
          d[D_N2_LO] || d[D_N2_HI])
        return REMC_V_RANGE;
      prev_e = e;
      continue;
    }
    if (framing || too_big || kl > REMC_KEY_MAX) return REMC_V_KEY;
    if ((err == REMC_BERR_UNKNOWN) != (kind == K_UNKNOWN)) return REMC_V_ERR;
    if (!args_ok(kind, ext, kl, body)) return REMC_V_ERR;

    /* where the packet ends, and its value */
    const int has_value = kind == K_STORE || kind == K_CONCAT || kind == K_SASL;
    uint64_t want;
    if (has_value) {
      if (dof != kend || dl != body - kl - ext) return REMC_V_DATA;
      want = (int32_t)dl < 0 ? dof : (uint64_t)dof + dl;
    } else {
      if (dof || dl) return REMC_V_DATA;
      want = kind == K_UNKNOWN ? (uint64_t)kend + body : kend;
    }
    if (fl & REMC_DF_DATA_INCOMPLETE) {
      if (!last || s != consumed || status != REMC_PS_OK || want <= len ||
          e != (want > 0xffffffffull ? 0xffffffffu : (uint32_t)want))
        return REMC_V_INCOMPLETE;
      incomplete = 1;
    } else if (e != want || e > consumed) {
      return REMC_V_RANGE;
    }

    /* numbers: only the extras' fields of the op, as 32/64-bit values */
    const uint32_t n0_ok = kind == K_STORE || kind == K_FAULT ? d[D_N0_HI] == 0
                          : kind == K_ARITH ? 1 : (d[D_N0_LO] | d[D_N0_HI]) == 0;
    const uint32_t n1_ok = d[D_N1_HI] == 0 &&
                           (kind == K_STORE || kind == K_ARITH || kind == K_TOUCH || kind == K_FLUSH ||
                            d[D_N1_LO] == 0);
    const uint32_t n2_ok = kind == K_ARITH || (d[D_N2_LO] | d[D_N2_HI]) == 0;
    if (!n0_ok || !n1_ok || !n2_ok) return REMC_V_NUMBER;

    if ((op == REMC_BIN_QUIT || op == REMC_BIN_QUITQ) && (!last || why != REMC_CLOSE_QUIT))
      return REMC_V_QUIT;
    prev_e = e;
  }
  /* consumed: where the last packet ended (or, incomplete, where it starts) */
  if (!incomplete && consumed != prev_e) return REMC_V_CONSUMED;
  const uint32_t *l = n ? io->desc + (uint64_t)(n - 1) * REMC_DESC_WORDS : 0;
  if (why == REMC_CLOSE_QUIT &&
      !(l && (l[D_OP] == REMC_BIN_QUIT || l[D_OP] == REMC_BIN_QUITQ) && l[D_ERR] == 0))
    return REMC_V_QUIT;
  if (why == REMC_CLOSE_BIN_ERROR && !(l && l[D_ERR] != REMC_BERR_NONE && l[D_ERR] != REMC_BERR_UNKNOWN))
    return REMC_V_STATUS;
  if (why == REMC_CLOSE_BIN_SILENT && len - consumed < REMC_BIN_HEADER) return REMC_V_STATUS;
  return REMC_V_OK;
}
