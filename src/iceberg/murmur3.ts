/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's reference `MurmurHash3_x86_32`), which the
 * Iceberg spec fixes as the hash behind `bucket[N]` (spec "Bucket Transform Details" and
 * Appendix B "32-bit Hash Requirements", seed 0). Guava's `murmur3_32_fixed` is the same function,
 * so results match Java Iceberg bit for bit.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hashes `data` and returns the 32-bit result as a signed int32, as Java reports it. */
export function murmur3Hash32(data: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const len = data.length;
  const blocks = len & ~3;

  for (let i = 0; i < blocks; i += 4) {
    // Blocks are read little-endian regardless of platform, as the reference does on x86.
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  let k = 0;
  switch (len & 3) {
    case 3:
      k ^= data[blocks + 2] << 16;
    // falls through
    case 2:
      k ^= data[blocks + 1] << 8;
    // falls through
    case 1:
      k ^= data[blocks];
      k = Math.imul(k, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
  }

  // Finalisation mix ("fmix32") forces all bits of the last block to avalanche.
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
