/*
 * remc_abi.h — the contract between the request parser (which runs inside the isolation domain)
 * and the root (the gate, the validator, the TypeScript server).
 *
 * The parser reads an input window and writes fixed-size descriptors: numbers and offsets into
 * that window, never pointers. It keeps no state between calls: everything it needs to resume
 * (where to start, a multiget to continue) comes in through remc_parse_io, which root fills.
 * The root re-checks every descriptor (remc_validate) before anything acts on it.
 *
 * The command and error tables are X-macros so that C, the validator and TypeScript (which reads
 * them from the addon at load time) share one source of truth.
 *
 * Behaviour reference: memcached 1.6.18's text protocol (proto_text.c), byte for byte as the
 * server answers it; the quirks that change replies are documented where the parser keeps them
 * (native/parser/text.c).
 */
#ifndef REMC_ABI_H
#define REMC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REMC_KEY_MAX 250u          /* KEY_MAX_LENGTH */
#define REMC_LINE_MAX 2048u        /* a non-get line longer than this without '\n' closes the conn */
#define REMC_READ_BUFFER 16384u    /* memcached's read size: a non-get line at least this long
                                      closes the conn even with its '\n' (it is never seen) */
#define REMC_LINE_LEAD_SPACES_MAX 100u /* ... unless it is "get "/"gets " after at most this many
                                          leading spaces: then the parser waits for more */
#define REMC_VALUE_LEN_MAX 2147483645u /* INT_MAX - 2: larger <bytes> is a bad command line */
#define REMC_TOKENS_MAX 24u        /* memcached's tokenizer sees at most 23 tokens + a terminal */

/* Text commands: X(ID, "name"). The parser matches names; TS maps ids to handlers.
 * "bget" (ancient alias) is parsed as GET. SLABS..REFRESH_CERTS are the admin commands: one
 * range, each one descriptor with its argument tokens (see "Admin descriptors"); their argument
 * rules are protocol/admin.ts's. */
#define REMC_TEXT_COMMANDS(X) \
  X(GET, "get")               \
  X(GETS, "gets")             \
  X(GAT, "gat")               \
  X(GATS, "gats")             \
  X(SET, "set")               \
  X(ADD, "add")               \
  X(REPLACE, "replace")       \
  X(APPEND, "append")         \
  X(PREPEND, "prepend")       \
  X(CAS, "cas")               \
  X(DELETE, "delete")         \
  X(INCR, "incr")             \
  X(DECR, "decr")             \
  X(TOUCH, "touch")           \
  X(STATS, "stats")           \
  X(FLUSH_ALL, "flush_all")   \
  X(VERSION, "version")       \
  X(VERBOSITY, "verbosity")   \
  X(QUIT, "quit")             \
  X(SHUTDOWN, "shutdown")     \
  X(CACHE_MEMLIMIT, "cache_memlimit") \
  X(DEBUGTIME, "debugtime")   \
  X(DEBUG_FAULT, "debug_fault") \
  X(SLABS, "slabs")           \
  X(LRU, "lru")               \
  X(LRU_CRAWLER, "lru_crawler") \
  X(WATCH, "watch")           \
  X(EXTSTORE, "extstore")     \
  X(REFRESH_CERTS, "refresh_certs") \
  REMC_META_COMMANDS(X)

/* Meta commands (memcached 1.6.18 process_m*_command; native/parser/meta.c, protocol/meta.ts).
 * Kept last: REMC_OP_MG..REMC_OP_ME is one range. Descriptor words: see "Meta descriptors". */
#define REMC_META_COMMANDS(X) \
  X(MG, "mg")                 \
  X(MS, "ms")                 \
  X(MD, "md")                 \
  X(MA, "ma")                 \
  X(MN, "mn")                 \
  X(ME, "me")

enum remc_op {
  REMC_OP_NONE = 0,
  REMC_OP_UNKNOWN,            /* unknown command or wrong token count: reply ERROR (D_ERR is
                                 REMC_PERR_ERROR, never NOREPLY) */
#define REMC_X_ENUM(id, name) REMC_OP_##id,
  REMC_TEXT_COMMANDS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_OP_COUNT
};

/* Parse errors carried in D_ERR. TS owns the exact reply strings (protocol/replies.ts).
 * An error descriptor of a known command keeps D_OP (and NOREPLY when memcached had already
 * seen the trailing "noreply": then the error reply is suppressed too, as memcached does).
 * Checks memcached makes before parsing (e.g. flush_all with -F: "CLIENT_ERROR flush_all not
 * allowed") are the server's and take precedence over D_ERR. */
#define REMC_PARSE_ERRORS(X)  \
  X(NONE)                     \
  X(ERROR)                    /* "ERROR" */ \
  X(BAD_FORMAT)               /* "CLIENT_ERROR bad command line format" */ \
  X(BAD_DATA_CHUNK)           /* "CLIENT_ERROR bad data chunk" */ \
  X(DELETE_USAGE)             /* "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]" */ \
  X(INVALID_EXPTIME)          /* "CLIENT_ERROR invalid exptime argument" */ \
  X(INVALID_DELTA)            /* "CLIENT_ERROR invalid numeric delta argument" */ \
  X(KEY_TOO_LONG)             /* "CLIENT_ERROR bad command line format" (kept apart for stats/logs) */

enum remc_perr {
#define REMC_X_ENUM(id) REMC_PERR_##id,
  REMC_PARSE_ERRORS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_PERR_COUNT
};

/*
 * Descriptor: REMC_DESC_WORDS uint32 words; the text protocol uses words 0..15, words 16..31
 * are reserved for the meta and binary protocols (the parser leaves them untouched; root must
 * not read them for text ops).
 *
 * What each op fills (unused words are 0; N* are the values memcached's safe_strto* produce,
 * including their truncation to 32 bits: flags "4294967296" is 0, <bytes> "-4294967295" is 1):
 *   GET GETS GAT GATS  one descriptor per key, all with the command's D_START/D_END; KEY; N1 =
 *                      exptime (gat/gats); LAST_KEY on the last key. "gat <exptime>" with no key
 *                      is one descriptor with D_KEY_LEN 0 and LAST_KEY (reply: END). A key longer
 *                      than 250 anywhere makes the whole command one KEY_TOO_LONG descriptor
 *                      (memcached then sends only the error, none of the earlier hits; 1.6.18
 *                      even drops the unwritten replies of earlier pipelined commands:
 *                      "version\r\nget a <251 bytes>" answers only the error).
 *   SET ADD REPLACE APPEND PREPEND CAS
 *                      KEY; DATA (D_DATA_OFF = just past the command line, D_END = D_DATA_OFF +
 *                      D_DATA_LEN + 2); N0 = client flags; N1 = exptime; N2 = cas unique (CAS).
 *                      BAD_DATA_CHUNK keeps every field: memcached decides "SERVER_ERROR object
 *                      too large for cache" / out of memory before it reads the data, so the
 *                      server checks D_DATA_LEN against its item size first. Any other error
 *                      has no data block (D_END = end of the line: nothing is swallowed).
 *   DELETE             KEY; HAS_ARG when the legacy "0" was given.
 *   INCR DECR          KEY; N0 = delta (u64).
 *   TOUCH              KEY; N1 = exptime.
 *   FLUSH_ALL          HAS_ARG + N1 = delay when a delay was given.
 *   VERBOSITY          N0 = level.   CACHE_MEMLIMIT  N0 = megabytes (non-numeric: D_ERR ERROR).
 *   STATS              KEY = first argument (the subcommand, any length), DATA = second argument
 *                      token; HAS_ARG when the second and third arguments are both numbers: then
 *                      N0, N1 = them as u32 (stats cachedump <id> <limit>).
 *   SHUTDOWN           KEY = first argument.
 *   VERSION QUIT       nothing (QUIT is the last descriptor; status REMC_PS_CLOSE).
 *   DEBUGTIME          KEY = argument; HAS_ARG + N0 = seconds (i64) when it is a number ("p" and
 *                      "r" are not: pause / resume); anything else: D_ERR ERROR.
 *   DEBUG_FAULT        N0 = kind; remc_fault_inject() has already run inside the domain.
 *   every op but the get family: D_AUX = tokens on the line (command included), 24 meaning 24
 *                      or more.
 */
#define REMC_DESC_WORDS 32u
enum remc_desc_word {
  D_OP = 0,     /* enum remc_op */
  D_ERR,        /* enum remc_perr; when != NONE the command is answered with that error only */
  D_FLAGS,      /* REMC_DF_* */
  D_START,      /* offset of the command's first byte in the window */
  D_END,        /* offset just past the command (its line, plus data block and "\r\n" for storage) */
  D_KEY_OFF,    /* key (storage, get family: one descriptor per key, delete, incr/decr, touch) */
  D_KEY_LEN,    /*   or the first argument token for stats / shutdown / debugtime */
  D_DATA_OFF,   /* storage: value bytes (without the trailing "\r\n"); stats: second argument */
  D_DATA_LEN,
  D_N0_LO,      /* N0: storage client flags (u32); incr/decr delta (u64); verbosity level; */
  D_N0_HI,      /*     cache_memlimit MB; debug_fault kind; debugtime seconds (i64)         */
  D_N1_LO,      /* N1: exptime as int32 bits (storage, gat/gats, touch, flush_all delay)    */
  D_N1_HI,      /*     (HI is the sign extension); stats: third argument                    */
  D_N2_LO,      /* N2: cas unique (u64) for "cas"                                            */
  D_N2_HI,
  D_AUX,        /* number of tokens on the line (command included, capped at 24) */
  D_TEXT_WORDS  /* = 16: first word reserved for meta/binary */
};

/*
 * Meta descriptors (REMC_OP_MG..REMC_OP_ME; native/parser/meta.c). D_ERR holds an enum remc_merr
 * (not remc_perr). Words:
 *   D_START/D_END      the line (ms: + data block + 2, also when an error swallows the block)
 *   D_KEY_OFF/LEN      the key token as sent (base64 text with `b`; root decodes it: see
 *                      D_M_KEY_DLEN). 0 on errors except ms BAD_DATA_CHUNK.
 *   D_DATA_OFF/LEN     ms: the data block (without "\r\n"); also on ms errors that memcached
 *                      answers after parsing <datalen>: the block it swallows
 *   N0 = C (u64 compare CAS); N1_LO = T exptime (int32), N1_HI = N exptime (int32);
 *   N2 = J initial (u64); D_AUX = tokens on the line (command included, capped at 24)
 *   D_M_FLAGS0..4      the flag letters in request order, 4 per word (little-endian bytes,
 *                      zero-padded); D_M_NFLAGS of them (<= REMC_META_FLAGS_MAX). me: only "b".
 *   D_M_DELTA_LO/HI    D (u64 delta, default 1 is root's)   D_M_RECACHE  R exptime (int32)
 *   D_M_CLIENT_FLAGS   F (u32)                               D_M_MODE     M's second byte
 *   D_M_OPAQUE_OFF/LEN the whole O token ('O' included; memcached echoes it, and refuses it
 *                      longer than REMC_META_OPAQUE_MAX, at a point that depends on the command)
 *   D_M_KEY_DLEN       with b: the decoded key length (memcached's base64_decode, >= 1)
 * D_FLAGS: NOREPLY when `q` was given; DATA_INCOMPLETE (ms only) as for storage commands.
 */
#define REMC_META_FLAGS_MAX 17u   /* ntokens <= 20: command + key + 17 flags + terminal token */
#define REMC_META_OPAQUE_MAX 32u  /* MFLAG_MAX_OPAQUE_LENGTH, 'O' included */
/* The flags _meta_flag_preparse knows, as bit (c & 31) of a mask per case (immediates, usable in
 * the domain): b c f h k l q s t u v, and C D F I J L M N O P R T. Others: "invalid flag". */
#define REMC_MFB(c) (1u << ((c) & 31))
#define REMC_META_FLAGS_LOWER                                                                  \
  (REMC_MFB('b') | REMC_MFB('c') | REMC_MFB('f') | REMC_MFB('h') | REMC_MFB('k') | REMC_MFB('l') | \
   REMC_MFB('q') | REMC_MFB('s') | REMC_MFB('t') | REMC_MFB('u') | REMC_MFB('v'))
#define REMC_META_FLAGS_UPPER                                                                  \
  (REMC_MFB('C') | REMC_MFB('D') | REMC_MFB('F') | REMC_MFB('I') | REMC_MFB('J') | REMC_MFB('L') | \
   REMC_MFB('M') | REMC_MFB('N') | REMC_MFB('O') | REMC_MFB('P') | REMC_MFB('R') | REMC_MFB('T'))
static inline int remc_meta_known_flag(uint32_t c) {
  if (c - 'a' < 26u) return (REMC_META_FLAGS_LOWER >> (c & 31)) & 1;
  if (c - 'A' < 26u) return (REMC_META_FLAGS_UPPER >> (c & 31)) & 1;
  return 0;
}
enum remc_meta_desc_word {
  D_M_FLAGS0 = 16, D_M_FLAGS1, D_M_FLAGS2, D_M_FLAGS3, D_M_FLAGS4, D_M_NFLAGS, D_M_DELTA_LO,
  D_M_DELTA_HI, D_M_RECACHE, D_M_CLIENT_FLAGS, D_M_OPAQUE_OFF, D_M_OPAQUE_LEN, D_M_MODE,
  D_M_KEY_DLEN
};

/* Meta parse errors (D_ERR of meta ops); TS owns the strings (protocol/replies.ts). */
#define REMC_META_ERRORS(X) \
  X(NONE)                     \
  X(ERROR)                    /* "ERROR" (fewer than 2 tokens) */ \
  X(BAD_FORMAT)               /* "CLIENT_ERROR bad command line format" */ \
  X(BAD_DATA_CHUNK)           /* "CLIENT_ERROR bad data chunk" (ms; every field kept) */ \
  X(FLAGS_TOO_LONG_MG)        /* "CLIENT_ERROR options flags are too long" (mg) */ \
  X(FLAGS_TOO_LONG)           /* "CLIENT_ERROR options flags too long" (ms md ma) */ \
  X(INVALID_FLAG)             /* "CLIENT_ERROR invalid flag" */ \
  X(DUP_FLAG)                 /* "CLIENT_ERROR duplicate flag" (also a flag byte >= 127) */ \
  X(BAD_TOKEN)                /* "CLIENT_ERROR bad token in command line format" */ \
  X(DECODE_KEY)               /* "CLIENT_ERROR error decoding key" */ \
  X(M_LENGTH)                 /* "CLIENT_ERROR incorrect length for M token" */ \
  X(INVALID_INITIAL)          /* "CLIENT_ERROR invalid numeric initial value" */ \
  X(INVALID_DELTA)            /* "CLIENT_ERROR invalid numeric delta value" */ \
  X(INVALID_OR_DUP)           /* "CLIENT_ERROR invalid or duplicate flag" (md, ma: any flag error) */

enum remc_merr {
#define REMC_X_ENUM(id) REMC_MERR_##id,
  REMC_META_ERRORS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_MERR_COUNT
};

/*
 * Admin descriptors (REMC_OP_SLABS..REMC_OP_REFRESH_CERTS): D_START/D_END the line; D_AUX =
 * tokens on the line (command included, capped at 24 like memcached's tokenizer); D_FLAGS
 * NOREPLY when the last of the first 23 tokens is "noreply" (memcached's set_noreply_maybe; the
 * command decides whether it honours it); key, data and numbers 0. Words D_A_TOK + 2i and
 * D_A_TOK + 2i + 1 hold the offset and length of argument token i (i = 0 is the token after the
 * command name), for i < min(D_AUX - 1, REMC_ADMIN_TOKENS_MAX); the others are 0.
 */
#define REMC_ADMIN_TOKENS_MAX 8u
enum remc_admin_desc_word { D_A_TOK = 16 };

/* D_FLAGS bits */
#define REMC_DF_NOREPLY         (1u << 0) /* memcached saw "noreply" as the last token: the reply
                                             (errors included) is suppressed */
#define REMC_DF_LAST_KEY        (1u << 1) /* get family: last key of the command: reply END after it */
#define REMC_DF_DATA_INCOMPLETE (1u << 2) /* storage: line complete but data block not all in the
                                             window; D_END is where it will end (may be > len).
                                             Always the last descriptor of a call; consumed is
                                             its D_START. */
#define REMC_DF_HAS_ARG         (1u << 3) /* optional numeric argument present (flush_all delay,
                                             delete's legacy "0", stats numbers, debugtime) */
#define REMC_DF_ALL              0xfu

/* Parse status (io->status) */
enum remc_pstatus {
  REMC_PS_OK = 0,        /* parsed up to `consumed`; any rest is an incomplete line (or the data
                            block of a DATA_INCOMPLETE descriptor): wait for more */
  REMC_PS_FULL,          /* descriptor area full: execute, then call again from `consumed`
                            (with `resume_off` = out_resume_off if a multiget was cut, and
                            `resume_end` = the D_END of its descriptors) */
  REMC_PS_CLOSE,         /* close the connection after executing the descriptors; why: close_reason */
  REMC_PS_COUNT
};

/* io->close_reason with REMC_PS_CLOSE (0 otherwise). memcached flushes pending replies before it
 * closes after "quit", but not on the other two (observed 1.6.18: "version\r\nGET / HTTP/1.1\r\n"
 * answers nothing; replies of a get before it were already written, as memcached writes after
 * every get). */
#define REMC_CLOSE_REASONS(X) \
  X(NONE)                     \
  X(QUIT)                     /* "quit": the QUIT descriptor is the last one */ \
  X(HTTP)                     /* unknown command whose last token starts with "HTTP/" */ \
  X(LINE_TOO_LONG)            /* > REMC_LINE_MAX bytes without '\n', not a get/gets */ \
  X(BIN_SILENT)               /* binary: a magic other than 0x80: close, no reply */ \
  X(BIN_ERROR)                /* binary: the last descriptor's D_ERR is answered, then close */

enum remc_close_reason {
#define REMC_X_ENUM(id) REMC_CLOSE_##id,
  REMC_CLOSE_REASONS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_CLOSE_COUNT
};

/* io->opts bits */
#define REMC_IN_FAULT_INJECTION (1u << 0) /* debug_fault is a command (else: unknown command) */
#define REMC_IN_DEBUGTIME       (1u << 1) /* debugtime is a command (else: unknown command) */
#define REMC_IN_BINARY          (1u << 2) /* the connection speaks the binary protocol: the window
                                             holds binary packets (native/parser/binary.c) */
#define REMC_IN_ALL             0x7u

/*
 * Binary protocol (memcached 1.6.18 proto_bin.c; reference §1.9). With REMC_IN_BINARY every
 * descriptor is one packet (or the start of one):
 *   D_OP      the request opcode byte as sent (0..255; unknown ones too)
 *   D_ERR     enum remc_berr (REMC_BIN_ERRORS); all but NONE/UNKNOWN are the last descriptor,
 *             status REMC_PS_CLOSE, close_reason BIN_ERROR (root answers, then closes)
 *   D_FLAGS   REMC_DF_DATA_INCOMPLETE: the header, extras and key are in the window but the rest
 *             of the packet (value, or the bytes memcached swallows) is not; D_END is where it
 *             ends (> len); always last, consumed = its D_START
 *   D_START   the header's first byte; D_END just past what memcached consumes for it: header +
 *             extras + key + value for storage/SASL, + the whole body again for an unknown opcode
 *             (QUIRK: memcached swallows bodylen bytes after extras and key), header + extras +
 *             key only for STAT/TOUCH/GAT* (QUIRK: surplus body bytes are read as the next packet)
 *   D_KEY_OFF/LEN  the key (just after the extras)
 *   D_DATA_OFF/LEN value (storage, SASL): bodylen - keylen - extlen; when that is negative as a
 *             32-bit int (memcached's vlen) D_END = D_DATA_OFF: nothing is read or swallowed
 *   N0        SET/ADD/REPLACE: client flags; INCR/DECR: delta; FLUSH/TOUCH/GAT*: 0; DEBUG_FAULT kind
 *   N1        exptime (u32 as sent: SET family, INCR/DECR, TOUCH/GAT*, FLUSH delay)
 *   N2        INCR/DECR: initial value
 *   D_AUX     extlen
 *   DB_OPAQUE, DB_CAS_LO/HI, DB_BODYLEN: the header fields (host order)
 */
#define REMC_BIN_OPS(X) \
  X(GET, 0x00) X(SET, 0x01) X(ADD, 0x02) X(REPLACE, 0x03) X(DELETE, 0x04) X(INCREMENT, 0x05) \
  X(DECREMENT, 0x06) X(QUIT, 0x07) X(FLUSH, 0x08) X(GETQ, 0x09) X(NOOP, 0x0a) X(VERSION, 0x0b) \
  X(GETK, 0x0c) X(GETKQ, 0x0d) X(APPEND, 0x0e) X(PREPEND, 0x0f) X(STAT, 0x10) X(SETQ, 0x11) \
  X(ADDQ, 0x12) X(REPLACEQ, 0x13) X(DELETEQ, 0x14) X(INCREMENTQ, 0x15) X(DECREMENTQ, 0x16) \
  X(QUITQ, 0x17) X(FLUSHQ, 0x18) X(APPENDQ, 0x19) X(PREPENDQ, 0x1a) X(TOUCH, 0x1c) X(GAT, 0x1d) \
  X(GATQ, 0x1e) X(SASL_LIST_MECHS, 0x20) X(SASL_AUTH, 0x21) X(SASL_STEP, 0x22) X(GATK, 0x23) \
  X(GATKQ, 0x24) \
  X(DEBUG_FAULT, 0xef) /* remcached, only with REMC_IN_FAULT_INJECTION: extras = kind (u32) */

enum remc_bin_op {
#define REMC_X_ENUM(id, code) REMC_BIN_##id = code,
  REMC_BIN_OPS(REMC_X_ENUM)
#undef REMC_X_ENUM
};

#define REMC_BIN_MAGIC_REQ 0x80u
#define REMC_BIN_HEADER 24u
#define REMC_BIN_MECH_MAX 32u /* MAX_SASL_MECH_LEN */
/* bodylen above this is refused (0x04, close), as memcached 1.6.42 does (229cf41be); 1.6.18
 * instead computed a negative int value length there (undefined behaviour; CVE-2011-4971,
 * CVE-2017-9951 class) */
#define REMC_BIN_BODY_MAX (1u << 30)

#define REMC_BIN_ERRORS(X) \
  X(NONE)                     \
  X(FRAMING)                  /* keylen > bodylen or keylen + extlen > bodylen: 0x81, close */ \
  X(BODY_TOO_LARGE)           /* bodylen > REMC_BIN_BODY_MAX: 0x04, close */ \
  X(KEY_TOO_LONG)             /* keylen > 250: 0x04, close (before the SASL check) */ \
  X(ARGS)                     /* extlen/keylen/bodylen wrong for the opcode: 0x04, close */ \
  X(UNKNOWN)                  /* unknown opcode: 0x81, body swallowed, connection kept */

enum remc_berr {
#define REMC_X_ENUM(id) REMC_BERR_##id,
  REMC_BIN_ERRORS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_BERR_COUNT
};

enum remc_bin_desc_word { DB_OPAQUE = 16, DB_CAS_LO, DB_CAS_HI, DB_BODYLEN };

/*
 * The parser's whole world besides the window: root writes the "in" part, the parser the "out"
 * part and desc[0..ndesc). Lives in domain memory.
 */
typedef struct remc_parse_io {
  /* in */
  uint32_t len;         /* bytes in the window */
  uint32_t start;       /* offset to start parsing at */
  uint32_t resume_off;  /* 0, or: the command at `start` is a multiget cut by REMC_PS_FULL;
                           continue with its key at this offset */
  uint32_t opts;        /* REMC_IN_* */
  uint32_t desc_cap;    /* descriptors that fit in desc[] */
  uint32_t resume_end;  /* with resume_off: the cut command's D_END (just past its '\n'), so
                           the parser need not search the line again (a long multiget then
                           costs linear time); 0 = unknown (was in_reserved) */
  uint64_t heap_base;   /* scratch heap for the call (domain memory), bump-allocated by the */
  uint64_t heap_size;   /*   parser with an allocator local to the call                      */
  uint64_t fault_target[4]; /* fault injection only: addresses the fault kinds aim at
                               (0: a root word, 1: a store word); 0 when injection is off */
  /* out */
  uint32_t status;      /* enum remc_pstatus */
  uint32_t consumed;    /* offset up to which input is fully handled (>= start, <= len) */
  uint32_t ndesc;       /* descriptors written */
  uint32_t out_resume_off; /* with REMC_PS_FULL inside a multiget: next key's offset, else 0 */
  uint32_t heap_used;   /* high-water mark of the scratch heap in this call */
  uint32_t close_reason; /* enum remc_close_reason (was out_reserved) */
  uint32_t desc[];      /* ndesc * REMC_DESC_WORDS words */
} remc_parse_io;

/*
 * Root's private copy of the "in" part. The domain can write all of remc_parse_io, so after the
 * call the in-fields there prove nothing: the validator takes them from here.
 */
typedef struct remc_parse_req {
  uint32_t len, start, resume_off, opts, desc_cap;
  uint32_t resume_end; /* see remc_parse_io */
  uint64_t heap_size;
} remc_parse_req;

/* Fill the in-part of io from root's copy (and the heap base) before the call. */
static inline void remc_parse_io_prepare(remc_parse_io *io, const remc_parse_req *req,
                                         uint64_t heap_base) {
  io->len = req->len;
  io->start = req->start;
  io->resume_off = req->resume_off;
  io->opts = req->opts;
  io->desc_cap = req->desc_cap;
  io->resume_end = req->resume_end;
  io->heap_base = heap_base;
  io->heap_size = req->heap_size;
}

/* The parser entry point. Freestanding: no libc, no globals, no state between calls. */
void remc_parse(remc_parse_io *io, const uint8_t *window);

/* remc_validate's answers: 0 = OK, else the first violation found. */
#define REMC_VALIDATE_ERRORS(X) \
  X(OK)                       \
  X(REQ)                      /* req itself out of range (root bug) */ \
  X(STATUS)                   /* status / close_reason out of range or inconsistent */ \
  X(CONSUMED)                 /* consumed outside [start, len] */ \
  X(NDESC)                    /* ndesc > desc_cap */ \
  X(HEAP)                     /* heap_used > heap_size */ \
  X(NO_PROGRESS)              /* FULL without any descriptor */ \
  X(OP)                       /* op out of range, or not enabled by opts */ \
  X(ERR)                      /* error code out of range or impossible for the op */ \
  X(FLAGS)                    /* unknown flag bits, or a flag the op cannot have */ \
  X(RANGE)                    /* D_START > D_END, or D_END past what may be executed */ \
  X(ORDER)                    /* descriptors overlap, go backwards or start before `start` */ \
  X(KEY)                      /* key outside its command, or length not 1..250 */ \
  X(DATA)                     /* data block outside its command or framing wrong */ \
  X(NUMBER)                   /* a number that memcached's parsing cannot produce */ \
  X(INCOMPLETE)               /* DATA_INCOMPLETE not last / not at consumed / not storage */ \
  X(RESUME)                   /* out_resume_off inconsistent with the cut multiget */ \
  X(QUIT)                     /* QUIT not last or status not CLOSE/QUIT */

enum remc_verr {
#define REMC_X_ENUM(id) REMC_V_##id,
  REMC_VALIDATE_ERRORS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_V_COUNT
};

/*
 * Root-side check of everything the parser returned (DESIGN.md invariant 2). `req` is root's own
 * copy of what it asked for; `window_cap` the window's size. Returns 0 (REMC_V_OK) when every
 * field is within bounds, else the enum remc_verr of the first violation. Used by the binding
 * after every call and by the fuzz harness.
 */
int remc_validate(const remc_parse_io *io, const remc_parse_req *req, uint32_t window_cap);

#ifdef __cplusplus
}
#endif

#endif
