# budget.s — the loop budget of the WebAssembly parser (native/parser/budget.h).
#
# The counter is a wasm global, not a word of linear memory: no store of the parser, however
# wild, can reset it. remc_loop_tick() counts down; at zero it asks the host (import
# env.budget(refills so far)) for a new budget, and a zero answer (--watchdog-ms exceeded)
# makes it trap with `unreachable`: the host has recorded the kind (timeout) first.
# Written in assembly because C cannot name a wasm global.

	.globaltype	remc_budget, i32
remc_budget:
	.globaltype	remc_refills, i32
remc_refills:
	.functype	remc_budget_refill (i32) -> (i32)
	.import_module	remc_budget_refill, env
	.import_name	remc_budget_refill, budget

	.text
	.globl	remc_loop_tick
	.type	remc_loop_tick,@function
remc_loop_tick:
	.functype	remc_loop_tick () -> ()
	global.get	remc_budget
	i32.const	1
	i32.sub
	global.set	remc_budget
	global.get	remc_budget
	i32.eqz
	if
	global.get	remc_refills
	call	remc_budget_refill
	global.set	remc_budget
	global.get	remc_refills
	i32.const	1
	i32.add
	global.set	remc_refills
	global.get	remc_budget
	i32.eqz
	if
	unreachable
	end_if
	end_if
	end_function

	.globl	remc_budget_reset
	.type	remc_budget_reset,@function
remc_budget_reset:
	.functype	remc_budget_reset (i32) -> ()
	local.get	0
	global.set	remc_budget
	i32.const	0
	global.set	remc_refills
	end_function
