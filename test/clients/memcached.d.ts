// The npm `memcached` client ships no types (and @types/memcached would be a dependency for one
// test file); the test wraps its callback API in call() and treats results as untyped.
declare module 'memcached' {
  const Memcached: any;
  export default Memcached;
}
