package anomaly

import (
	"math/bits"
	"math/rand/v2"
)

// hashSeed keys the 64-bit string hash that [Table] and the value sets of
// Distinct and FirstSeen use. Unlike a maphash.Seed it is a number, so it
// can be saved with the state and restored: a restored table finds its keys
// again. The hash is wyhash (the Go runtime's fallback hash) with every
// constant that meets the input replaced by a secret derived from the seed:
// wyhash's own constants let some inputs collide whatever the seed (a block
// equal to a constant multiplies to zero), secrets do not, so inputs cannot
// be crafted to collide without knowing the seed. It reads
// bytes in little-endian order: the same seed and input give the same hash
// on every platform and with every Go version.
type hashSeed struct {
	seed uint64 // what is saved
	k    uint64 // the secret the input is mixed with, derived from seed
}

// The wyhash constants.
const (
	wyP0 = 0xa0761d6478bd642f
	wyP1 = 0xe7037ed1a0b428db
	wyP2 = 0x8ebc6af09c88c6e3
	wyP3 = 0x589965cc75374cc3
	wyP4 = 0x1d8e4e27c47d124f
)

// newHashSeed returns a random seed. math/rand/v2's global generator is
// seeded by the runtime from the system's randomness, so seeds cannot be
// guessed.
func newHashSeed() hashSeed { return makeHashSeed(rand.Uint64()) }

func makeHashSeed(seed uint64) hashSeed {
	return hashSeed{seed: seed, k: wymix(seed^wyP0, wyP1) ^ wyP2}
}

func wymix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// string returns the hash of s.
func (h hashSeed) string(s string) uint64 {
	n := len(s)
	seed := h.seed ^ wyP0
	var a, b uint64
	switch {
	case n == 0:
	case n < 4:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n == 4:
		a = read4(s)
		b = a
	case n < 8:
		a = read4(s)
		b = read4(s[n-4:])
	case n == 8:
		a = read8(s)
		b = a
	case n <= 16:
		a = read8(s)
		b = read8(s[n-8:])
	default:
		p := s
		if len(p) > 48 {
			seed1, seed2 := seed, seed
			k1, k2 := h.k^wyP2, h.k^wyP3 // the lanes must differ, or swapping blocks would collide
			for ; len(p) > 48; p = p[48:] {
				seed = wymix(read8(p)^h.k, read8(p[8:])^seed)
				seed1 = wymix(read8(p[16:])^k1, read8(p[24:])^seed1)
				seed2 = wymix(read8(p[32:])^k2, read8(p[40:])^seed2)
			}
			seed ^= seed1 ^ seed2
		}
		for ; len(p) > 16; p = p[16:] {
			seed = wymix(read8(p)^h.k, read8(p[8:])^seed)
		}
		a = read8(s[n-16:])
		b = read8(s[n-8:])
	}
	return wymix(wyP4^uint64(n), wymix(a^h.k, b^seed))
}

func read4(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

func read8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
