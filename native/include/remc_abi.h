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
 */
#ifndef REMC_ABI_H
#define REMC_ABI_H

#include <stdint.h>

#define REMC_KEY_MAX 250u          /* KEY_MAX_LENGTH */
#define REMC_LINE_MAX 2048u        /* a non-get line longer than this without '\n' closes the conn */
#define REMC_VALUE_LEN_MAX 2147483645u /* INT_MAX - 2: larger <bytes> is a bad command line */

/* Text commands: X(ID, "name"). The parser matches names; TS maps ids to handlers. */
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
  X(DEBUG_FAULT, "debug_fault")

enum remc_op {
  REMC_OP_NONE = 0,
  REMC_OP_UNKNOWN,            /* unknown command or wrong token count: reply ERROR */
#define REMC_X_ENUM(id, name) REMC_OP_##id,
  REMC_TEXT_COMMANDS(REMC_X_ENUM)
#undef REMC_X_ENUM
  REMC_OP_COUNT
};

/* Parse errors carried in D_ERR. TS owns the exact reply strings (protocol/replies.ts). */
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

/* Descriptor: REMC_DESC_WORDS uint32 words. */
#define REMC_DESC_WORDS 16u
enum remc_desc_word {
  D_OP = 0,     /* enum remc_op */
  D_ERR,        /* enum remc_perr; when != NONE the command is answered with that error only */
  D_FLAGS,      /* REMC_DF_* */
  D_START,      /* offset of the command's first byte in the window */
  D_END,        /* offset just past the command (its line, plus data block and "\r\n" for storage) */
  D_KEY_OFF,    /* key (storage, get family: one descriptor per key, delete, incr/decr, touch) */
  D_KEY_LEN,    /*   or the first argument token for stats / verbosity-like commands */
  D_DATA_OFF,   /* storage: value bytes (without the trailing "\r\n") */
  D_DATA_LEN,
  D_N0_LO,      /* N0: storage client flags (u32); incr/decr delta (u64); verbosity level; */
  D_N0_HI,      /*     cache_memlimit MB; debug_fault kind; debugtime seconds               */
  D_N1_LO,      /* N1: exptime as int32 bits (storage, gat/gats, touch, flush_all delay)    */
  D_N1_HI,      /*     (HI is the sign extension)                                           */
  D_N2_LO,      /* N2: cas unique (u64) for "cas"                                            */
  D_N2_HI,
  D_AUX         /* number of tokens on the line (command included) */
};

/* D_FLAGS bits */
#define REMC_DF_NOREPLY         (1u << 0) /* last token was "noreply" */
#define REMC_DF_LAST_KEY        (1u << 1) /* get family: last key of the command: reply END after it */
#define REMC_DF_DATA_INCOMPLETE (1u << 2) /* storage: line complete but data block not all in the
                                             window; D_END is where it will end (may be > len).
                                             Always the last descriptor of a call. */
#define REMC_DF_HAS_ARG         (1u << 3) /* optional numeric argument present (flush_all delay,
                                             delete's legacy "0") */
#define REMC_DF_ALL              0xfu

/* Parse status (io->status) */
enum remc_pstatus {
  REMC_PS_OK = 0,        /* parsed up to `consumed`; any rest is an incomplete line: wait for more */
  REMC_PS_FULL,          /* descriptor area full: execute, then call again from `consumed`
                            (with `resume_off` if a multiget was cut) */
  REMC_PS_CLOSE,         /* close the connection after executing the descriptors (HTTP guard,
                            over-long line, quit) */
  REMC_PS_COUNT
};

/* io->opts bits */
#define REMC_IN_FAULT_INJECTION (1u << 0) /* debug_fault is a command (else: unknown command) */
#define REMC_IN_DEBUGTIME       (1u << 1) /* debugtime is a command (else: unknown command) */

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
  uint32_t in_reserved;
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
  uint32_t out_reserved;
  uint32_t desc[];      /* ndesc * REMC_DESC_WORDS words */
} remc_parse_io;

/* The parser entry point. Freestanding: no libc, no globals, no state between calls. */
void remc_parse(remc_parse_io *io, const uint8_t *window);

/*
 * Root-side check of everything the parser returned (DESIGN.md invariant 2). Returns 0 when
 * every field is within bounds, else a nonzero code naming the first violation. Used by the
 * binding after every call and by the fuzz harness.
 */
int remc_validate(const remc_parse_io *io, uint32_t window_cap);

#endif
