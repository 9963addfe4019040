// Binary protocol: remcached vs memcached 1.6.18, byte for byte (test/compare/seq/binary.ts).
// The -S group gives both servers the same user: memcached through Cyrus SASL (a sasldb made with
// saslpasswd2 from Debian's sasl2-bin, SASL_CONF_PATH pointing at a memcached.conf with
// `mech_list: plain`), remcached through MEMCACHED_SASL_PWDB (a `user:password` file).
import { binaryGroup, setupSasl } from './seq/binary_harness.ts';
import { asciiOnly, binaryAll, binaryOnly, noCas, noFlush, sasl, smallItems } from './seq/binary.ts';

binaryGroup({ name: 'binary protocol', sequences: binaryAll }).run();
binaryGroup({ name: 'binary -I 1k', args: ['-I', '1k', '-o', 'slab_chunk_max=1024'], sequences: smallItems }).run();
binaryGroup({ name: 'binary -F', args: ['-F'], sequences: noFlush }).run();
binaryGroup({ name: 'binary -C', args: ['-C'], sequences: noCas }).run();
binaryGroup({ name: 'binary -B binary', args: ['-B', 'binary'], sequences: binaryOnly }).run();
binaryGroup({ name: 'binary -B ascii', args: ['-B', 'ascii'], sequences: asciiOnly, flushBefore: false }).run();
binaryGroup({ name: 'binary -S', args: ['-S'], sequences: sasl, flushBefore: false, skip: setupSasl() }).run();
