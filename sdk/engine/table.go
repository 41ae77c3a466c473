package engine

import "iter"

// chunkBits sets the size of a table's chunks: 64 flags each.
const (
	chunkBits = 6
	chunkSize = 1 << chunkBits
)

// table holds a snapshot's compiled flags in key order, in chunks. A
// snapshot that replaces some flags of another (Apply's common case) copies
// only the chunk index and the chunks it changes, so a change costs the
// same at 100 flags as at 100,000. Tables are never modified once built.
type table struct {
	chunks [][]*flag
	n      int
}

// newTable builds a table of flags, in their order.
func newTable(flags []*flag) table {
	t := table{n: len(flags), chunks: make([][]*flag, 0, (len(flags)+chunkSize-1)/chunkSize)}
	for i := 0; i < len(flags); i += chunkSize {
		t.chunks = append(t.chunks, append([]*flag(nil), flags[i:min(i+chunkSize, len(flags))]...))
	}
	return t
}

// at returns the flag at position i.
func (t table) at(i int) *flag { return t.chunks[i>>chunkBits][i&(chunkSize-1)] }

// len is the number of flags.
func (t table) len() int { return t.n }

// all yields every position and flag in order.
func (t table) all() iter.Seq2[int, *flag] {
	return func(yield func(int, *flag) bool) {
		for c, chunk := range t.chunks {
			for j, f := range chunk {
				if !yield(c<<chunkBits+j, f) {
					return
				}
			}
		}
	}
}

// with returns a table whose flag at each position of repl is replaced.
func (t table) with(repl map[int]*flag) table {
	n := table{n: t.n, chunks: append([][]*flag(nil), t.chunks...)}
	copied := make(map[int]bool, len(repl))
	for i, f := range repl {
		c := i >> chunkBits
		if !copied[c] {
			n.chunks[c] = append([]*flag(nil), n.chunks[c]...)
			copied[c] = true
		}
		n.chunks[c][i&(chunkSize-1)] = f
	}
	return n
}
