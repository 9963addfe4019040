/*
 * traps.S — the two ways domain code gives up, as traps at known addresses: the fault handler
 * tells them apart from any other illegal instruction by RIP (kinds `canary` and `abort`).
 *
 * __stack_chk_fail is hidden, so it replaces glibc's for every object linked into the addon
 * (glibc's version writes stderr, mmaps and takes locks: under the domain PKRU it would fault
 * halfway, §6.1). In host code the trap is fatal, like glibc's: the handler prints the usual
 * message and forwards SIGILL to the previous handler.
 */
/* x86-64 only: elsewhere native/runtime/domain_portable.c provides the runtime (mode none). */
#if defined(__x86_64__)

        .section .note.GNU-stack,"",@progbits
        .text

        .globl  __stack_chk_fail
        .hidden __stack_chk_fail
        .type   __stack_chk_fail,@function
        .globl  remc_trap_canary
        .hidden remc_trap_canary
        .p2align 4
__stack_chk_fail:
remc_trap_canary:
        ud2
        .size   __stack_chk_fail, .-__stack_chk_fail

        .globl  remc_domain_abort
        .hidden remc_domain_abort
        .type   remc_domain_abort,@function
        .globl  remc_trap_abort
        .hidden remc_trap_abort
        .p2align 4
remc_domain_abort:
remc_trap_abort:
        ud2
        .size   remc_domain_abort, .-remc_domain_abort
#endif /* __x86_64__ */
