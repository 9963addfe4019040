/*
 * meta.c — memcached 1.6.18's meta commands (mg ms md ma mn me), parsed into descriptors
 * (remc_abi.h, "Meta descriptors").
 *
 * This file is #included by text.c (REMC_TEXT_C defined) and shares its helpers (number parsing,
 * token walking, emit) and its rules: it runs inside the isolation domain, so no libc, no string
 * literals, no tables, no switch, no local arrays or address-taken locals. Compiled on its own
 * (binding.gyp globs the parser folder) it is empty: one object, one parser, and nothing for the
 * domain to call through a symbol it may not read.
 *
 * What is decided here is what memcached decides before it looks at the cache (proto_text.c:
 * process_command_ascii's 2-byte 'm' dispatch, WANT_TOKENS_MIN, the key and ntokens checks, the
 * <datalen> of ms, and _meta_flag_preparse, whose error message is the LAST one set unless an
 * unknown/duplicate flag stops it first). What memcached checks later, while it builds the reply
 * (opaque length, ms/ma M modes, which depend on the command and may follow side effects), is
 * root's (protocol/meta.ts), from the fields below.
 *
 * Base64 keys (`b`): memcached decodes the key in place during the flag pass. Here the parser only
 * runs memcached's base64_decode arithmetic (which bytes count, padding) to find whether it fails
 * and the decoded length; root decodes the bytes (its own copy of the algorithm, never trusting
 * this length) in the window, just before executing the command, so that keys reach the store
 * as bytes.
 */
#ifdef REMC_TEXT_C

/* memcached's base64 dtable: which bytes are base64 digits ('=' counts, as 0 plus a pad). */
AI int b64_digit(uint8_t c) {
  return (uint8_t)(c - 'A') < 26 || (uint8_t)(c - 'a') < 26 || (uint8_t)(c - '0') < 10 || c == '+' ||
         c == '/' || c == '=';
}

/* base64_decode(key) length, 0 on failure: memcached skips non-digits, needs a non-zero multiple
 * of 4 digits, and stops after the first 4-digit block holding a '=' (1 pad: 2 bytes, 2 pads: 1
 * byte, more: failure). */
AI uint32_t b64_decoded_len(const uint8_t *w, uint32_t s, uint32_t e) {
  uint32_t count = 0;
  for (uint32_t i = s; i < e; i++) count += (uint32_t)b64_digit(w[i]);
  if (count == 0 || (count & 3)) return 0;
  uint32_t out = 0, n = 0, pad = 0;
  for (uint32_t i = s; i < e; i++) {
    if (!b64_digit(w[i])) continue;
    if (w[i] == '=') pad++;
    if (++n == 4) {
      out += 3;
      n = 0;
      if (pad) {
        if (pad > 2) return 0;
        out -= pad;
        break;
      }
    }
  }
  return out;
}

/*
 * One meta command line [pos, eol) whose command token ends at c1 and whose content ends at le.
 * Writes descriptor d; returns where parsing goes on: eol, or past an ms data block (which may
 * be > len: then d has DATA_INCOMPLETE and must be the call's last descriptor).
 */
static uint32_t meta_line(const uint8_t *w, uint32_t len, uint32_t op, uint32_t pos, uint32_t c1,
                          uint32_t le, uint32_t eol, uint32_t *d) {
  for (uint32_t i = D_M_FLAGS0; i < REMC_DESC_WORDS; i++) d[i] = 0;

  /* Tokens as tokenize_command sees them: nt real ones (capped at 24), the key, the 3rd. */
  uint32_t nt = 1, a1 = 0, z1 = 0, a2 = 0, z2 = 0;
  for (uint32_t p = skip_sp(w, c1, le); p < le;) {
    uint32_t q = tok_end(w, p, le);
    nt++;
    if (nt == 2) a1 = p, z1 = q;
    else if (nt == 3) a2 = p, z2 = q;
    if (nt == REMC_TOKENS_MAX) break;
    p = skip_sp(w, q, le);
  }
  /* memcached's ntokens counts the terminal token too, and is at most 24 */
  const uint32_t ntokens = nt + 1 < REMC_TOKENS_MAX ? nt + 1 : REMC_TOKENS_MAX;
  const uint32_t klen = z1 - a1;

  if (op == REMC_OP_MN) { /* "MN", whatever follows */
    emit(d, op, 0, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, nt);
    return eol;
  }
  if (op == REMC_OP_ME) {
    /* process_meta_command: no key or a long one is a bad format; "b" must be exactly the 3rd
     * token; other tokens are ignored. */
    uint32_t err = REMC_MERR_NONE, dlen = 0;
    if (ntokens < 3 || klen > REMC_KEY_MAX) {
      err = REMC_MERR_BAD_FORMAT;
    } else if (ntokens >= 4 && z2 - a2 == 1 && w[a2] == 'b') {
      dlen = b64_decoded_len(w, a1, z1);
      if (!dlen) err = REMC_MERR_BAD_FORMAT;
    }
    if (err) {
      emit(d, op, err, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, nt);
      return eol;
    }
    emit(d, op, 0, 0, pos, eol, a1, klen, 0, 0, 0, 0, 0, nt);
    if (dlen) d[D_M_FLAGS0] = 'b', d[D_M_NFLAGS] = 1, d[D_M_KEY_DLEN] = dlen;
    return eol;
  }

  /* mg ms md ma */
  uint32_t err = REMC_MERR_NONE;
  if (ntokens < 3) err = REMC_MERR_ERROR; /* WANT_TOKENS_MIN(ntokens, 3) */
  else if (klen > REMC_KEY_MAX) err = REMC_MERR_BAD_FORMAT;
  else if (op == REMC_OP_MS && ntokens == 3) err = REMC_MERR_BAD_FORMAT;
  else if (ntokens > 20) err = op == REMC_OP_MG ? REMC_MERR_FLAGS_TOO_LONG_MG : REMC_MERR_FLAGS_TOO_LONG;
  uint64_t vlen = 0;
  if (!err && op == REMC_OP_MS) {
    num_t v = safe_strtol(w, a2, z2);
    if (!v.ok || (int64_t)v.v < 0 || v.v > REMC_VALUE_LEN_MAX) err = REMC_MERR_BAD_FORMAT;
    else vlen = v.v;
  }
  if (err) { /* answered before any data block is known: nothing swallowed */
    emit(d, op, err, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, nt);
    return eol;
  }

  /* _meta_flag_preparse, from the first flag token (ms: after <datalen>) */
  uint64_t seen_lo = 0, seen_hi = 0, cas = 0, initial = 0, delta = 0;
  uint32_t nflags = 0, has_error = 0, stop = 0, fl = 0, dlen = 0;
  uint32_t ttl = 0, viv = 0, recache = 0, cflags = 0, mode = 0, ooff = 0, olen = 0;
  err = REMC_MERR_BAD_FORMAT; /* errstr's initial value */
  uint32_t p = skip_sp(w, op == REMC_OP_MS ? z2 : z1, le);
  while (p < le && !stop) {
    REMC_LOOP_TICK();
    const uint32_t q = tok_end(w, p, le);
    const uint8_t o = w[p];
    num_t t;
    if (o >= 127 || (o < 64 ? (seen_lo >> o) & 1 : (seen_hi >> (o - 64)) & 1)) {
      err = REMC_MERR_DUP_FLAG;
      has_error = stop = 1;
      break;
    }
    if (o < 64) seen_lo |= 1ull << o;
    else seen_hi |= 1ull << (o - 64);
    if (!remc_meta_known_flag(o)) { /* remc_abi.h: immediates */
      err = REMC_MERR_INVALID_FLAG;
      has_error = stop = 1;
      break;
    }
    if (o == 'b') {
      dlen = b64_decoded_len(w, a1, z1);
      if (!dlen) err = REMC_MERR_DECODE_KEY, has_error = 1;
    } else if (o == 'N' || o == 'T' || o == 'R') {
      t = safe_strtol(w, p + 1, q);
      if (!t.ok) err = REMC_MERR_BAD_TOKEN, has_error = 1;
      else if (o == 'N') viv = (uint32_t)t.v;
      else if (o == 'T') ttl = (uint32_t)t.v;
      else recache = (uint32_t)t.v;
    } else if (o == 'F') { /* QUIRK: a bad F keeps the previous message (CVE-2020-22570's fix) */
      t = safe_strtoul(w, p + 1, q);
      if (!t.ok) has_error = 1;
      else cflags = (uint32_t)t.v;
    } else if (o == 'C') {
      t = safe_strtoull(w, p + 1, q);
      if (!t.ok) err = REMC_MERR_BAD_TOKEN, has_error = 1;
      else cas = t.v;
    } else if (o == 'M') {
      if (q - p != 2) err = REMC_MERR_M_LENGTH, has_error = 1;
      else mode = w[p + 1];
    } else if (o == 'J' || o == 'D') {
      t = safe_strtoull(w, p + 1, q);
      if (!t.ok) err = o == 'J' ? REMC_MERR_INVALID_INITIAL : REMC_MERR_INVALID_DELTA, has_error = 1;
      else if (o == 'J') initial = t.v;
      else delta = t.v;
    } else if (o == 'O') {
      ooff = p, olen = q - p;
    } else if (o == 'q') {
      fl = REMC_DF_NOREPLY;
    }
    d[D_M_FLAGS0 + (nflags >> 2)] |= (uint32_t)o << (8 * (nflags & 3));
    nflags++;
    p = skip_sp(w, q, le);
  }

  if (has_error) {
    /* md and ma answer every flag error alike; mg and ms with the message. ms swallows its
     * data block (memcached has already read <datalen>). */
    for (uint32_t i = D_M_FLAGS0; i < REMC_DESC_WORDS; i++) d[i] = 0;
    if (op == REMC_OP_MD || op == REMC_OP_MA) err = REMC_MERR_INVALID_OR_DUP;
    if (op != REMC_OP_MS) {
      emit(d, op, err, 0, pos, eol, 0, 0, 0, 0, 0, 0, 0, nt);
      return eol;
    }
    uint64_t dend = (uint64_t)eol + vlen + 2;
    emit(d, op, err, dend > len ? REMC_DF_DATA_INCOMPLETE : 0, pos, (uint32_t)dend, 0, 0, eol,
         (uint32_t)vlen, 0, 0, 0, nt);
    return (uint32_t)dend;
  }

  uint32_t end = eol, doff = 0;
  err = REMC_MERR_NONE;
  if (op == REMC_OP_MS) {
    uint64_t dend = (uint64_t)eol + vlen + 2;
    doff = eol;
    end = (uint32_t)dend;
    if (dend > len) fl |= REMC_DF_DATA_INCOMPLETE;
    else if (w[dend - 2] != '\r' || w[dend - 1] != '\n') err = REMC_MERR_BAD_DATA_CHUNK;
  }
  emit(d, op, err, fl, pos, end, a1, klen, doff, (uint32_t)vlen, cas,
       (uint64_t)ttl | (uint64_t)viv << 32, initial, nt);
  d[D_M_NFLAGS] = nflags;
  d[D_M_DELTA_LO] = (uint32_t)delta;
  d[D_M_DELTA_HI] = (uint32_t)(delta >> 32);
  d[D_M_RECACHE] = recache;
  d[D_M_CLIENT_FLAGS] = cflags;
  d[D_M_OPAQUE_OFF] = ooff;
  d[D_M_OPAQUE_LEN] = olen;
  d[D_M_MODE] = mode;
  d[D_M_KEY_DLEN] = dlen;
  return end;
}

#else
/* Built on its own: nothing (see above). */
typedef int remc_meta_c_is_part_of_text_c;
#endif
