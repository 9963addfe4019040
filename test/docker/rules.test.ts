// The Docker image without a Docker engine (none runs on these machines): docker/Dockerfile's
// rules read from the file itself (user, port, entrypoint, command, health check, what is copied
// and what .dockerignore lets into the context); docker/docker-entrypoint.sh run as it is, with a
// `node` on PATH that records its arguments; the final stage's files laid out as the image has
// them and the server started from them; docker/healthcheck.mjs against real remcached processes
// started with -p, -l, -s, -U, -B, -S, -Y and -Z.
import { suite, needs } from '../helpers/test.ts';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Conn, freePort, launch, REMCACHED_MAIN, ROOT, type Server } from '../helpers/server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the Dockerfile, parsed ----------------------------------------------------------------------

interface Instr { op: string; args: string; line: number }
/** Instructions by stage (each FROM starts one); comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instr[][] {
  const stages: Instr[][] = [];
  let cur = '', start = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!cur && (/^\s*#/.test(l) || !l.trim())) continue;
    if (!cur) start = i + 1;
    if (/\\\s*$/.test(l)) { cur += l.replace(/\\\s*$/, ' '); continue; }
    cur += l;
    const m = /^\s*(\w+)\s+(.*)$/s.exec(cur)!;
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start };
    if (ins.op === 'FROM') stages.push([]);
    stages.at(-1)!.push(ins);
    cur = '';
  }
  return stages;
}
const DOCKERFILE = readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const final = stages.at(-1)!;
const build = stages[0]!;
const all = (st: Instr[], op: string) => st.filter((i) => i.op === op);
const last = (st: Instr[], op: string) => all(st, op).at(-1);
/** The exec (JSON) form, which Docker runs without a shell: signals reach the process. */
const execForm = (i: Instr | undefined): string[] => {
  assert.ok(i, 'instruction present');
  assert.ok(i!.args.startsWith('['), `${i!.op} in exec form (line ${i!.line})`);
  return JSON.parse(i!.args) as string[];
};
/** COPY [--from=x] src... dest */
function copies(st: Instr[]): Array<{ from: string | null; srcs: string[]; dest: string }> {
  return all(st, 'COPY').map((i) => {
    const words = i.args.split(/\s+/);
    const from = words[0]!.startsWith('--from=') ? words.shift()!.slice(7) : null;
    assert.ok(!words[0]!.startsWith('--'), `COPY option ${words[0]} understood by this test (line ${i.line})`);
    return { from, srcs: words.slice(0, -1), dest: words.at(-1)! };
  });
}
const WORKDIR = last(final, 'WORKDIR')!.args;
/** Where a COPY puts a source, in the image. */
const destOf = (src: string, dest: string, many: boolean) => {
  const d = dest.startsWith('/') ? dest : join(WORKDIR, dest);
  return dest.endsWith('/') || many ? join(d, src.split('/').at(-1)!) : d;
};

// ---- .dockerignore, as Docker applies it ----------------------------------------------------------

const ignoreRules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const neg = l.startsWith('!');
    const p = (neg ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
    const re = p.split('/').map((seg) => seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/');
    // a pattern that matches a directory matches everything below it
    return { neg, re: new RegExp(`^${re}(?:/.*)?$`) };
  });
/** Docker's rule: the last pattern that matches a path decides. */
const inContext = (path: string) => {
  let excluded = false;
  for (const r of ignoreRules) if (r.re.test(path)) excluded = !r.neg;
  return !excluded;
};
function filesUnder(rel: string): string[] {
  const abs = join(ROOT, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
    .map((d) => relative(ROOT, join(d.parentPath ?? (d as any).path, d.name)));
}

const rules = suite('docker/Dockerfile, statically');

rules('the final stage runs as memcache (uid 11211), not root', () => {
  const user = last(final, 'USER')?.args;
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
  assert.is(user, 'memcache');
  const run = all(final, 'RUN').map((i) => i.args).join('\n');
  assert.match(run, /groupadd --system --gid 11211 memcache/);
  assert.match(run, /useradd --system --gid memcache --uid 11211 memcache/);
  // nothing after USER switches back
  const after = final.slice(final.findIndex((i) => i.op === 'USER'));
  assert.is(all(after, 'USER').length, 1);
});

rules('EXPOSE 11211, STOPSIGNAL SIGTERM', () => {
  assert.equal(all(final, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)), ['11211']);
  assert.is(last(final, 'STOPSIGNAL')?.args, 'SIGTERM');
});

rules('ENTRYPOINT docker-entrypoint.sh (exec form, on PATH, executable), CMD memcached', () => {
  assert.equal(execForm(last(final, 'ENTRYPOINT')), ['docker-entrypoint.sh']);
  assert.equal(execForm(last(final, 'CMD')), ['memcached']);
  const c = copies(final).find((x) => x.srcs.includes('docker/docker-entrypoint.sh'));
  assert.is(c?.dest, '/usr/local/bin/', 'copied into a directory on the node image\'s PATH');
  assert.ok(statSync(join(ROOT, 'docker', 'docker-entrypoint.sh')).mode & 0o111, 'executable in the repository (COPY keeps the mode)');
  assert.is(spawnSync('sh', ['-n', join(ROOT, 'docker', 'docker-entrypoint.sh')]).status, 0, 'sh -n: valid');
});

rules('HEALTHCHECK runs the copied docker/healthcheck.mjs with node, bounded', () => {
  const h = last(final, 'HEALTHCHECK')!;
  assert.ok(h, 'HEALTHCHECK present');
  const m = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/.exec(h.args);
  assert.ok(m, `HEALTHCHECK [options] CMD [exec form]: ${h.args}`);
  assert.match(m![1]!, /--timeout=\d+s/);
  const cmd = JSON.parse(m![2]!) as string[];
  const c = copies(final).find((x) => x.srcs.includes('docker/healthcheck.mjs'))!;
  assert.equal(cmd, ['node', destOf('docker/healthcheck.mjs', c.dest, false)]);
  // it imports ../dist/server/config.js: dist/ must sit beside its directory
  const dist = copies(final).find((x) => x.srcs.includes('/src/dist'))!;
  assert.is(join(dirname(cmd[1]!), '..', 'dist'), destOf('/src/dist', dist.dest, false));
});

rules('nothing copied from the context is node_modules, a build output, tests or tools; all of it is in the context', () => {
  for (const st of stages) {
    for (const c of copies(st).filter((x) => x.from === null)) {
      for (const src of c.srcs) {
        assert.ok(!/(^|\/)(node_modules|build|dist|test|bench|demo|\.git)(\/|$)/.test(src) && src !== '.', `COPY ${src}`);
        assert.ok(existsSync(join(ROOT, src)), `${src} exists`);
        for (const f of filesUnder(src)) {
          if (/^native\/(test|fuzz)\//.test(f)) continue; // below COPY native, left out by .dockerignore on purpose
          assert.ok(inContext(f), `${f} is in the build context (.dockerignore)`);
        }
      }
    }
  }
  assert.ok(!inContext('node_modules/pino/package.json'), '.dockerignore: node_modules');
  assert.ok(!inContext('build/Release/remcached.node') && !inContext('dist/server/main.js'), '.dockerignore: build outputs');
  assert.ok(!inContext('test/docker/rules.test.ts') && !inContext('.git/HEAD'), '.dockerignore: tests, .git');
});

rules('the build stage gets every input of `npm ci` (addon sources, TypeScript, the wasm parser)', () => {
  const inputs = [
    'package.json', 'package-lock.json', 'binding.gyp', 'tsconfig.json', 'scripts/build-native.mjs',
    // tsconfig.json's "include"
    ...(JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).include as string[])
      .flatMap((p) => p.endsWith('/*.ts') ? readdirSync(join(ROOT, dirname(p))).filter((f) => f.endsWith('.ts')).map((f) => join(dirname(p), f)) : [p]),
    // binding.gyp's sources and includes
    'native/include', 'native/parser', 'native/binding', 'native/runtime', 'native/store',
    'native/wasm/parser.wasm',
  ];
  const copied = copies(build).filter((c) => c.from === null).flatMap((c) => c.srcs);
  for (const input of inputs) {
    assert.ok(copied.some((s) => input === s || input.startsWith(`${s}/`)), `${input} copied into the build stage`);
    for (const f of filesUnder(input)) assert.ok(inContext(f), `${f} in the context`);
  }
  assert.match(all(build, 'RUN').map((i) => i.args).join('\n'), /npm ci && npm prune --omit=dev/);
});

// ---- the entrypoint, run --------------------------------------------------------------------------

const ENTRY = join(ROOT, 'docker', 'docker-entrypoint.sh');
const entry = suite('docker/docker-entrypoint.sh, run with a recording `node` on PATH');
let fake = '';
entry.before(() => {
  fake = mkdtempSync(join(tmpdir(), 'remc-entry-'));
  // records its pid and its arguments, NUL-separated (spaces and newlines survive)
  writeFileSync(join(fake, 'node'), '#!/bin/sh\n{ printf "%s\\0" "$$"; printf "%s\\0" "$@"; } > "$RECORD"\n');
  chmodSync(join(fake, 'node'), 0o755);
});
entry.after(() => { if (fake) rmSync(fake, { recursive: true, force: true }); });

/** Run the entrypoint as Docker would: ENTRYPOINT + args. What the fake node got, and its pid. */
function runEntry(args: string[]): { pid: number; node: string[] | null; stdout: string; status: number | null; entryPid: number } {
  const record = join(fake, `record-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(ENTRY, args, { env: { PATH: `${fake}:/usr/bin:/bin`, RECORD: record }, encoding: 'utf8', timeout: 10_000 });
  const got = existsSync(record) ? readFileSync(record, 'utf8').split('\0').slice(0, -1) : null;
  return { pid: got ? Number(got[0]) : -1, node: got ? got.slice(1) : null, stdout: r.stdout, status: r.status, entryPid: r.pid ?? -2 };
}
const MAIN = '/opt/remcached/dist/server/main.js';

entry('CMD alone (`docker run IMAGE`): the server, no flags', () => {
  const cmd = JSON.parse(last(final, 'CMD')!.args) as string[];
  assert.equal(runEntry(cmd).node, [MAIN]);
});
entry('flags alone (`docker run IMAGE -m 64 -c 4096`): memcached prepended', () => {
  assert.equal(runEntry(['-m', '64', '-c', '4096']).node, [MAIN, '-m', '64', '-c', '4096']);
  assert.equal(runEntry(['--memory-limit=64']).node, [MAIN, '--memory-limit=64']);
});
entry('`memcached …` (docker run, compose `command: memcached …`) and `remcached …` run the server', () => {
  assert.equal(runEntry(['memcached', '-m', '64']).node, [MAIN, '-m', '64']);
  assert.equal(runEntry(['remcached', '-vv', '-p', '11311']).node, [MAIN, '-vv', '-p', '11311']);
  assert.equal(runEntry(['memcached']).node, [MAIN]);
});
entry('arguments pass through untouched (spaces, newlines, globs, empty)', () => {
  const odd = ['-o', 'a b  c', '-l', '*', '', 'x\ny', '$HOME', '--'];
  assert.equal(runEntry(['memcached', ...odd]).node, [MAIN, ...odd]);
  assert.equal(runEntry(odd.slice()).node, [MAIN, ...odd]);
});
entry('exec: node replaces the shell (it is PID 1 in the container and gets docker stop\'s SIGTERM)', () => {
  const r = runEntry(['-m', '64']);
  assert.is(r.pid, r.entryPid);
});
entry('any other command runs as given (`docker run -it IMAGE sh`)', () => {
  const r = runEntry(['sh', '-c', 'echo "hello $0"', 'there']);
  assert.is(r.node, null, 'node not run');
  assert.is(r.stdout, 'hello there\n');
  assert.is(r.status, 0);
  assert.is(runEntry(['false']).status, 1, 'its exit status is the container\'s');
});

// ---- the final stage's files, run ------------------------------------------------------------------

/** remcached (or `main`) started from the stage; ready on a TCP port or a unix socket path. */
type Proc = Server;
function server(args: string[], ready: { port?: number; path?: string }, env: NodeJS.ProcessEnv = process.env, main = REMCACHED_MAIN): Promise<Proc> {
  return launch(process.execPath, [main, ...args], ready.path ? { path: ready.path } : ready.port!, env);
}

const image = suite('the final stage\'s files, laid out as in the image', { timeoutMs: 60_000 });
let stage = '';
image.before(() => {
  // COPY --from=build /src/X dest: the build stage is this checkout after `npm ci` (its
  // node_modules also holds dev packages; the image's is pruned to pino and node-addon-api)
  stage = mkdtempSync(join(tmpdir(), 'remc-image-'));
  for (const c of copies(final)) {
    for (const src of c.srcs) {
      const from = c.from === 'build' ? join(ROOT, relative('/src', src)) : join(ROOT, src);
      const dest = destOf(src, c.dest, c.srcs.length > 1);
      if (!dest.startsWith(WORKDIR)) continue; // /usr/local/bin: tested above
      const to = join(stage, relative(WORKDIR, dest));
      mkdirSync(dirname(to), { recursive: true });
      if (src.endsWith('node_modules')) symlinkSync(from, to);
      else cpSync(from, to, { recursive: true });
    }
  }
});
image.after(() => { if (stage) rmSync(stage, { recursive: true, force: true }); });

// (default: without parser.wasm the image used to fall back to `none`, UNPROTECTED, on every host
// without PKU)
for (const isolation of ['default', 'sfi', 'none']) {
  image(`the server starts from them and serves (${isolation === 'default' ? 'default isolation: pku or sfi, never none' : `--isolation=${isolation}`})`, async () => {
    const port = await freePort();
    const flag = isolation === 'default' ? [] : [`--isolation=${isolation}`];
    const s = await server(['-p', String(port), '-l', '127.0.0.1', ...flag], { port }, process.env, join(stage, 'dist', 'server', 'main.js'));
    try {
      const c = await Conn.open(port);
      c.send('set k 0 0 2\r\nhi\r\nget k\r\nstats isolation\r\n');
      const r = (await c.untilEndsWith('END\r\n')).toString();
      c.close();
      assert.ok(r.startsWith('STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n'), r);
      assert.match(r, new RegExp(`STAT isolation ${isolation === 'default' ? '(pku|sfi)' : isolation}\r\n`));
      const h = spawnSync(process.execPath, [join(stage, 'docker', 'healthcheck.mjs'), String(s.proc.pid)], { encoding: 'utf8', timeout: 10_000 });
      assert.is(h.status, 0, `the health check from the image's layout: ${h.stdout}${h.stderr}`);
    } finally { await s.stop(); }
  });
}

// ---- the health check, against real servers ----------------------------------------------------------

const HEALTH = join(ROOT, 'docker', 'healthcheck.mjs');
const health = (pid: number) => spawnSync(process.execPath, [HEALTH, String(pid)], { encoding: 'utf8', timeout: 10_000 });
const hc = suite('docker/healthcheck.mjs follows the server\'s flags', { timeoutMs: 60_000 });
let dir = '';
hc.before(() => { dir = mkdtempSync(join(tmpdir(), 'remc-health-')); });
hc.after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** Start remcached with `args` (PORT replaced by a free port), check the health check says healthy there. */
async function healthyWith(args: string[], where: RegExp, o: { env?: NodeJS.ProcessEnv; path?: string } = {}): Promise<void> {
  const port = await freePort();
  const a = args.map((x) => x.replace('PORT', String(port)));
  const s = await server(a, o.path ? { path: o.path } : { port }, o.env);
  try {
    const h = health(s.proc.pid!);
    assert.is(h.status, 0, `${a.join(' ')}: ${h.stdout}${h.stderr}`);
    assert.match(h.stdout, where);
  } finally { await s.stop(); }
}

hc('-p and -l', () => healthyWith(['-p', 'PORT', '-l', '127.0.0.1'], /^healthy: 127\.0\.0\.1:\d+\n$/));
hc('the long forms, and -l host:port over -p', () => healthyWith(['--port=1', '--listen=127.0.0.1:PORT'], /^healthy: 127\.0\.0\.1:\d+\n$/));
hc('-l 0.0.0.0 (every interface): asked on loopback', () => healthyWith(['-p', 'PORT', '-l', '0.0.0.0'], /^healthy: 127\.0\.0\.1:\d+\n$/));
hc('-B binary: the binary VERSION request', () => healthyWith(['-p', 'PORT', '-l', '127.0.0.1', '-B', 'binary'], /healthy/));
hc('-s: the unix socket', async () => {
  const path = join(dir, 'mc.sock');
  await healthyWith(['-s', path], /^healthy: unix:/, { path });
});
hc('-Y (ASCII auth): `CLIENT_ERROR unauthenticated` is an answer', async () => {
  const f = join(dir, 'auth');
  writeFileSync(f, 'user:secret\n');
  await healthyWith(['-p', 'PORT', '-l', '127.0.0.1', '-Y', f], /healthy/);
});
hc('-S (SASL, binary only): VERSION needs no authentication', async () => {
  const f = join(dir, 'pwdb');
  writeFileSync(f, 'user:secret\n');
  await healthyWith(['-p', 'PORT', '-l', '127.0.0.1', '-S'], /healthy/, { env: { ...process.env, MEMCACHED_SASL_PWDB: f } });
});
hc('-p 0 -U: one UDP datagram', async () => {
  const port = await freePort();
  // no TCP listener to wait for: the check itself is polled until the server is up
  const u = spawn(process.execPath, [REMCACHED_MAIN, '-p', '0', '-U', String(port), '-l', '127.0.0.1'], { stdio: 'ignore' });
  try {
    let h = health(u.pid!);
    for (let i = 0; i < 40 && h.status !== 0; i++) { await sleep(100); h = health(u.pid!); }
    assert.is(h.status, 0, `${h.stdout}${h.stderr}`);
    assert.match(h.stdout, /^healthy: udp:127\.0\.0\.1:\d+\n$/);
  } finally {
    u.kill('SIGTERM');
    await Promise.race([new Promise((r) => u.once('exit', r)), sleep(5000)]);
  }
});
hc('-Z (TLS), with client certificates required; a notls: listener first is asked in plain', async () => {
  const why = needs('openssl', 'openssl');
  if (why) { console.log(`  (TLS part not run: ${why})`); return; }
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const tlsArgs = ['-Z', '-o', `ssl_chain_cert=${cert},ssl_key=${key},ssl_ca_cert=${cert},ssl_verify_mode=3`];
  await healthyWith(['-p', 'PORT', '-l', '127.0.0.1', ...tlsArgs], /^healthy: tls:127\.0\.0\.1:\d+\n$/);
  await healthyWith(['-p', '1', '-l', 'notls:127.0.0.1:PORT', ...tlsArgs], /^healthy: 127\.0\.0\.1:\d+\n$/);
});
hc('unhealthy: a server that does not answer (SIGSTOP), and a process that is not remcached', async () => {
  const port = await freePort();
  const s = await server(['-p', String(port), '-l', '127.0.0.1'], { port });
  try {
    s.proc.kill('SIGSTOP');
    const t0 = Date.now();
    const h = health(s.proc.pid!);
    assert.is(h.status, 1);
    assert.match(h.stderr, /unhealthy: no answer in 2 s/);
    assert.ok(Date.now() - t0 < 8000, 'bounded');
  } finally { await s.stop(); }
  const h = health(process.pid);
  assert.is(h.status, 1);
  assert.match(h.stderr, /is not remcached/);
});

rules.run();
entry.run();
image.run();
hc.run();
