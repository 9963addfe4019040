// Zipf-like key popularity: rank r (1..n) is drawn with probability ∝ 1/r^s (s = 0.99 as in YCSB).
// A precomputed CDF and a binary search: O(log n) per draw, no allocation.
export function zipf(n: number, s: number, random: () => number = Math.random): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 1; r <= n; r++) { sum += 1 / r ** s; cdf[r - 1] = sum; }
  for (let i = 0; i < n; i++) cdf[i] = cdf[i]! / sum;
  return () => {
    const u = random();
    let lo = 0; let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid]! < u) lo = mid + 1; else hi = mid; }
    return lo; // key id 0 is the most popular
  };
}
