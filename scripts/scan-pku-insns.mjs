#!/usr/bin/env node
// Scans the executable bytes of an ELF64 x86-64 file for instructions that can write PKRU:
//   WRPKRU  0F 01 EF
//   XRSTOR  0F AE /5 with a memory operand   (loads PKRU when RFBM bit 9 is set)
//   XRSTORS 0F C7 /3 with a memory operand
// Every PT_LOAD segment with PF_X is scanned byte by byte, not only .text and not only the
// instructions a disassembler would decode: a pattern inside an immediate, a displacement or
// .rodata in an executable segment is a usable gadget too (pku-linux.md §4). Each hit is mapped
// to the symbol containing it (nm -S); the run fails when a hit lies outside the allowed symbols.
//
//   node scripts/scan-pku-insns.mjs [FILE] [--allow a,b,c] [--expect-min N] [--quiet]
// FILE defaults to build/Release/remcached.node; --allow defaults to the gate symbols.
// Exit 0: clean; 1: a hit outside the allowed symbols (or fewer than --expect-min hits);
// 2: usage or read error.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const DEFAULT_ALLOW = ['remc_gate_call', 'remc_gate_call_strict', 'remc_gate_rewind', 'remc_sig_entry', 'remc_sig_entry_chain'];

function parseArgs(argv) {
  const o = { file: 'build/Release/remcached.node', allow: DEFAULT_ALLOW, expectMin: 0, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--allow') o.allow = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--expect-min') o.expectMin = Number(argv[++i]);
    else if (a === '--quiet') o.quiet = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else o.file = a;
  }
  return o;
}

// Executable PT_LOAD segments: [{ off, size, vaddr }]
function execSegments(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('not ELF64 little-endian');
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const segs = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = buf.readUInt32LE(p);
    const flags = buf.readUInt32LE(p + 4);
    if (type !== 1 /* PT_LOAD */ || !(flags & 1) /* PF_X */) continue;
    segs.push({
      off: Number(buf.readBigUInt64LE(p + 8)),
      vaddr: Number(buf.readBigUInt64LE(p + 16)),
      size: Number(buf.readBigUInt64LE(p + 32)), // p_filesz: bytes present in the file
    });
  }
  return segs;
}

const memOperand = (modrm, reg) => (modrm & 0xc0) !== 0xc0 && ((modrm >> 3) & 7) === reg;

export function scanBytes(buf, segs) {
  const hits = [];
  for (const s of segs) {
    const end = Math.min(s.off + s.size, buf.length);
    for (let i = s.off; i + 2 < end; i++) {
      if (buf[i] !== 0x0f) continue;
      const b1 = buf[i + 1], b2 = buf[i + 2];
      let insn = null;
      if (b1 === 0x01 && b2 === 0xef) insn = 'WRPKRU';
      else if (b1 === 0xae && memOperand(b2, 5)) insn = 'XRSTOR';
      else if (b1 === 0xc7 && memOperand(b2, 3)) insn = 'XRSTORS';
      if (insn) hits.push({ insn, vaddr: s.vaddr + (i - s.off), bytes: buf.subarray(i, i + 3).toString('hex') });
    }
  }
  return hits;
}

// Defined symbols with sizes, sorted by address: [{ addr, size, name }]
// (.symtab; for a stripped file the dynamic symbols)
function symbols(file) {
  let r = spawnSync('nm', ['-S', '-n', '--defined-only', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 || !r.stdout.trim())
    r = spawnSync('nm', ['-D', '-S', '-n', '--defined-only', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`nm failed: ${r.stderr}`);
  const out = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]+)\s+(?:([0-9a-f]+)\s+)?(\S)\s+(\S+)$/.exec(line.trim());
    if (!m) continue;
    out.push({ addr: parseInt(m[1], 16), size: m[2] ? parseInt(m[2], 16) : 0, name: m[4].replace(/@.*/, ''), type: m[3] });
  }
  return out;
}

// The sized symbol containing addr (the innermost/latest when several do); else the nearest
// symbol before it, marked as not containing it.
function symbolFor(syms, addr) {
  let containing = null, preceding = null;
  for (const s of syms) {
    if (s.addr > addr) break;
    if (s.type === 'a' || s.type === 'A') continue;
    preceding = s;
    if (s.size && addr < s.addr + s.size) containing = s;
  }
  const s = containing ?? preceding;
  if (!s) return { name: '<no symbol>', off: addr, inside: false };
  return { name: s.name, off: addr - s.addr, inside: !!containing };
}

function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) { console.error(String(e.message)); process.exit(2); }
  let buf;
  try { buf = readFileSync(o.file); } catch (e) { console.error(`cannot read ${o.file}: ${e.message}`); process.exit(2); }
  let segs, syms;
  try { segs = execSegments(buf); syms = symbols(o.file); } catch (e) { console.error(e.message); process.exit(2); }
  const hits = scanBytes(buf, segs);
  let bad = 0;
  for (const h of hits) {
    const s = symbolFor(syms, h.vaddr);
    // A hit counts as allowed only when it lies within the sized extent of an allowed symbol.
    const ok = s.inside && o.allow.includes(s.name);
    if (!ok) bad++;
    if (!o.quiet || !ok)
      console.log(`${ok ? 'ok ' : 'BAD'} ${h.insn.padEnd(7)} ${h.bytes} at 0x${h.vaddr.toString(16)} ${s.name}+0x${s.off.toString(16)}${s.inside ? '' : ' (outside any sized symbol)'}`);
  }
  const bytes = segs.reduce((n, s) => n + s.size, 0);
  console.log(`${o.file}: ${segs.length} executable segment(s), ${bytes} bytes, ${hits.length} hit(s), ${bad} outside [${o.allow.join(', ')}]`);
  if (hits.length < o.expectMin) {
    console.log(`expected at least ${o.expectMin} hit(s) in the allowed symbols: is this the right file?`);
    process.exit(1);
  }
  process.exit(bad ? 1 : 0);
}

main();
