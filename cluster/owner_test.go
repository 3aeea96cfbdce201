package cluster

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// TestWeightGolden pins the hash: replicas of two versions must agree on
// every owner during a rolling upgrade, so these values never change.
func TestWeightGolden(t *testing.T) {
	for _, c := range []struct {
		member, check string
		want          uint64
	}{
		{"", "", 0xb9034ad37056f5fb},
		{"a", "b", 0xab78f5eca36d0e2b},
		{"node-1", "web/home", 0xd8c760707ce41843},
		{"host-1234-deadbeef", "db: primary", 0x5c93c65ac455cb34},
		{"m", "ü é 100% ✓", 0xdf71e72795aa9846},
	} {
		if got := Weight(c.member, c.check); got != c.want {
			t.Errorf("Weight(%q, %q) = %#x, want %#x", c.member, c.check, got, c.want)
		}
	}
}

// TestWeightMatchesFNV checks Weight against the documented definition
// built from the standard library's FNV-1a.
func TestWeightMatchesFNV(t *testing.T) {
	for i := range 1000 {
		m, c := fmt.Sprintf("member-%d", i%7), fmt.Sprintf("check %d", i)
		h := fnv.New64a()
		h.Write([]byte(m + "\x00" + c))
		if got, want := Weight(m, c), fmix64(h.Sum64()); got != want {
			t.Fatalf("Weight(%q, %q) = %#x, want %#x", m, c, got, want)
		}
	}
}

// TestOwnerGolden pins owners of a few names over three members, in any
// order of the members.
func TestOwnerGolden(t *testing.T) {
	want := map[string]string{
		"check-0": "beta", "check-1": "beta", "check-2": "beta", "check-3": "gamma", "check-4": "beta",
		"web/home": "alpha", "db: primary": "gamma",
	}
	for _, members := range [][]string{{"alpha", "beta", "gamma"}, {"gamma", "alpha", "beta"}} {
		for name, w := range want {
			if got := Owner(name, members); got != w {
				t.Errorf("Owner(%q, %q) = %q, want %q", name, members, got, w)
			}
		}
	}
	if got := Owner("x", nil); got != "" {
		t.Errorf("Owner with no members = %q, want \"\"", got)
	}
}

func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("check-%05d", i)
	}
	return s
}

func owners(checks, members []string) map[string]string {
	o := make(map[string]string, len(checks))
	for _, c := range checks {
		o[c] = Owner(c, members)
	}
	return o
}

// TestOwnerBalanceAndMoves: three members share 10,000 names about evenly;
// a fourth takes about a quarter, all from the others and nothing between
// them; removing a member moves exactly its names.
func TestOwnerBalanceAndMoves(t *testing.T) {
	checks := names(10000)
	// Ids as NewID makes them: one host, close pids, random suffixes.
	three := []string{"web-1-2314-9f3a01c2", "web-1-2315-07be44d1", "web-2-2314-c0ffee42"}
	four := append(three[:3:3], "web-3-977-5ab1e0f7")
	before := owners(checks, three)
	count := map[string]int{}
	for _, m := range before {
		count[m]++
	}
	for _, m := range three {
		if count[m] < 3000 || count[m] > 3700 {
			t.Errorf("member %s owns %d of 10,000 names, want about 3,333", m, count[m])
		}
	}

	after := owners(checks, four)
	moved := 0
	for _, c := range checks {
		if before[c] != after[c] {
			moved++
			if after[c] != four[3] {
				t.Errorf("%s moved from %s to %s, not to the new member", c, before[c], after[c])
			}
		}
	}
	if moved < 2000 || moved > 3000 {
		t.Errorf("adding a 4th member moved %d of 10,000 names, want 20-30 %%", moved)
	}
	t.Logf("adding a 4th member moved %d of 10,000 names (%.1f %%)", moved, float64(moved)/100)

	gone := three[1]
	rest := []string{three[0], three[2]}
	after = owners(checks, rest)
	for _, c := range checks {
		if before[c] != gone && after[c] != before[c] {
			t.Errorf("%s moved from %s to %s though %s stayed", c, before[c], after[c], before[c])
		}
	}
}

func BenchmarkOwner(b *testing.B) {
	members := []string{"web-1-2314-9f3a01c2", "web-1-2315-07be44d1", "web-2-2314-c0ffee42"}
	checks := names(10000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Owner(checks[i%len(checks)], members)
	}
}
