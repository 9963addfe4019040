// Builds the addon with node-gyp, offline: Node's own headers sit beside the running node
// (/usr/include/node on Debian, /usr/local/include/node in the official images), so node-gyp
// is pointed at them instead of downloading a tarball.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const prefix = dirname(dirname(process.execPath));
const args = ['rebuild', '-j', 'max'];
if (process.argv.includes('--debug')) args.push('--debug');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

let gyp;
try { gyp = require.resolve('node-gyp/bin/node-gyp.js'); }
catch { gyp = process.env.npm_config_node_gyp; } // npm's bundled node-gyp when devDependencies are omitted
if (!gyp) { console.error('node-gyp not found: run `npm ci` (it is a devDependency)'); process.exit(1); }

const r = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
