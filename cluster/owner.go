package cluster

import "slices"

// Rendezvous (highest random weight) hashing. The weight of member m for
// name c is
//
//	weight(m, c) = fmix64(fnv1a64(m + "\x00" + c))
//
// where fnv1a64 is 64-bit FNV-1a (offset basis 14695981039346656037, prime
// 1099511628211) over the bytes of the strings, and fmix64 is MurmurHash3's
// 64-bit finalizer, which spreads FNV's weak low-order mixing over all bits
// (without it, members whose ids differ only in their last bytes get
// correlated weights). The owner is the member of highest weight; equal
// weights go to the smaller id. Only integer arithmetic on bytes: the
// result is the same on every platform and must stay the same across
// versions (TestOwnerGolden), or replicas of different versions would
// disagree during a rolling upgrade.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Weight returns the rendezvous weight of member for the name check, as
// documented above.
func Weight(member, check string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(member); i++ {
		h ^= uint64(member[i])
		h *= fnvPrime
	}
	h *= fnvPrime // the "\x00" separator: XOR with 0 changes nothing
	for i := 0; i < len(check); i++ {
		h ^= uint64(check[i])
		h *= fnvPrime
	}
	return fmix64(h)
}

// fmix64 is MurmurHash3's 64-bit finalizer.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Owner returns the member of members that owns check by rendezvous
// hashing, or "" when members is empty. The order of members does not
// matter.
func Owner(check string, members []string) string {
	var (
		best  string
		bestW uint64
	)
	for i, m := range members {
		w := Weight(m, check)
		if i == 0 || w > bestW || (w == bestW && m < best) {
			best, bestW = m, w
		}
	}
	return best
}

// sortedSet returns a sorted copy of names without repeats.
func sortedSet(names []string) []string {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Compact(names)
}
