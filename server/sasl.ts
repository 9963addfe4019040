// SASL for the binary protocol (-S): the PLAIN mechanism, checked against memcached's own
// password database format (sasl_defs.c, ENABLE_SASL_PWDB): the file named by the environment
// variable MEMCACHED_SASL_PWDB, one `user:password` line per user. Like memcached, the file is
// read at every authentication, so passwords can change without a restart.
//
// Passwords are never logged, and compared in constant time: both sides are hashed to 32 bytes
// and compared with timingSafeEqual, and every line of the file is compared (no early exit on a
// user name match), so timing tells neither the password's length nor which user exists.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { log } from './log.ts';

export const SASL_MECHS = 'PLAIN';
export const SASL_PWDB_ENV = 'MEMCACHED_SASL_PWDB';

const digest = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();

export class SaslPlain {
  constructor(private readonly pwdbPath: string | undefined) {
    if (!pwdbPath) log.warn(`-S without ${SASL_PWDB_ENV}: no SASL user can authenticate`);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): SaslPlain {
    return new SaslPlain(env[SASL_PWDB_ENV] || undefined);
  }

  /** The PLAIN initial response: `[authzid] NUL authcid NUL password`. True when it matches a
   *  line of the password file (an authzid, if given, must be the user itself). */
  check(response: Buffer): boolean {
    const a = response.indexOf(0);
    const b = a < 0 ? -1 : response.indexOf(0, a + 1);
    if (a < 0 || b < 0 || response.indexOf(0, b + 1) >= 0) return false;
    const authzid = response.subarray(0, a), user = response.subarray(a + 1, b);
    const pass = response.subarray(b + 1);
    if (user.length === 0 || (authzid.length > 0 && !authzid.equals(user))) return false;
    let text: string;
    try {
      text = this.pwdbPath ? readFileSync(this.pwdbPath, 'latin1') : '';
    } catch (e) {
      log.warn({ file: this.pwdbPath, err: (e as NodeJS.ErrnoException).code }, 'cannot read the SASL password file');
      return false;
    }
    const entries: Array<[Buffer, Buffer]> = [];
    for (const line of text.split('\n')) {
      const l = line.endsWith('\r') ? line.slice(0, -1) : line;
      const colon = l.indexOf(':');
      if (colon <= 0) continue;
      entries.push([Buffer.from(l.slice(0, colon), 'latin1'), Buffer.from(l.slice(colon + 1), 'latin1')]);
    }
    return matchCredentials(entries, user, pass);
  }
}

/** True when (user, pass) is one of `entries`. Constant time (see the top of this file); shared
 *  with ASCII auth (server/ascii-auth.ts). */
export function matchCredentials(entries: Iterable<readonly [Buffer, Buffer]>, user: Buffer, pass: Buffer): boolean {
  const userD = digest(user), passD = digest(pass);
  let ok = 0;
  for (const [u, p] of entries) {
    const um = timingSafeEqual(digest(u), userD);
    const pm = timingSafeEqual(digest(p), passD);
    ok |= Number(um && pm);
  }
  return ok === 1;
}
