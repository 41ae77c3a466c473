package engine

import (
	"math"
	"strconv"
)

// semver is a parsed Semantic Version 2.0.0. pre holds the pre-release
// identifiers without the leading '-' ("" when there are none); it is a
// substring of the parsed text, so parsing does not allocate.
type semver struct {
	major, minor, patch uint64
	pre                 string
}

// parseSemver parses a Semantic Version 2.0.0 string, with an optional
// leading "v". Build metadata is validated and dropped.
func parseSemver(s string) (semver, bool) {
	var v semver
	ok := v.parse(s)
	return v, ok
}

// parse is parseSemver into v, which is left partly set when it fails. The
// evaluation of semver conditions uses it: filling the fields in place
// avoids copying a result assembled from 8-byte stores with 16-byte loads,
// which stalls store-to-load forwarding and cost more than the parse.
func (v *semver) parse(s string) bool { return v.parseMode(s, false) }

// parseLenient reads a version as users and tools write them in contexts:
// a "v" or "V" prefix, and missing minor and patch numbers read as 0
// ("1.2" is 1.2.0, "v2" is 2.0.0, "1.2-beta" is 1.2.0-beta). Rule values
// are parsed strictly (parse): a flag's author writes a full version.
func (v *semver) parseLenient(s string) bool { return v.parseMode(s, true) }

func (v *semver) parseMode(s string, lenient bool) bool {
	if len(s) > 0 && (s[0] == 'v' || (lenient && s[0] == 'V')) {
		s = s[1:]
	}
	var ok bool
	// partEnd: a lenient version may end its numbers here.
	partEnd := func(s string) bool { return lenient && (len(s) == 0 || s[0] == '-' || s[0] == '+') }
	v.minor, v.patch = 0, 0
	if v.major, s, ok = semverNumber(s); !ok {
		return false
	}
	if !partEnd(s) {
		if len(s) == 0 || s[0] != '.' {
			return false
		}
		if v.minor, s, ok = semverNumber(s[1:]); !ok {
			return false
		}
		if !partEnd(s) {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			if v.patch, s, ok = semverNumber(s[1:]); !ok {
				return false
			}
		}
	}
	v.pre = ""
	if len(s) > 0 && s[0] == '-' {
		end := len(s)
		for i := 1; i < len(s); i++ {
			if s[i] == '+' {
				end = i
				break
			}
		}
		v.pre = s[1:end]
		if !semverIdentifiers(v.pre, true) {
			return false
		}
		s = s[end:]
	}
	if len(s) > 0 {
		if s[0] != '+' || !semverIdentifiers(s[1:], false) {
			return false
		}
	}
	return true
}

// semverNumber reads a numeric identifier without leading zeros.
func semverNumber(s string) (uint64, string, bool) {
	i := 0
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if n > math.MaxUint64/10 || n*10 > math.MaxUint64-d {
			return 0, s, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}

// semverIdentifiers checks dot-separated, non-empty [0-9A-Za-z-]
// identifiers; numeric pre-release identifiers must not have leading zeros.
func semverIdentifiers(s string, pre bool) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" || (pre && len(id) > 1 && id[0] == '0' && isDigits(id)) {
			return false
		}
		start = i + 1
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// compareSemver orders two versions by SemVer 2.0.0 precedence.
func compareSemver(a, b *semver) int {
	switch {
	case a.major != b.major:
		return cmpUint(a.major, b.major)
	case a.minor != b.minor:
		return cmpUint(a.minor, b.minor)
	case a.patch != b.patch:
		return cmpUint(a.patch, b.patch)
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

func comparePre(a, b string) int {
	for {
		ia, ra, moreA := nextIdentifier(a)
		ib, rb, moreB := nextIdentifier(b)
		if c := compareIdentifier(ia, ib); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

func nextIdentifier(s string) (id, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// compareIdentifier compares pre-release identifiers: numeric ones
// numerically (by length first, as they have no leading zeros), numeric
// before alphanumeric, alphanumeric ones in ASCII order.
func compareIdentifier(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		if len(a) != len(b) {
			return cmpInt(len(a), len(b))
		}
	case na:
		return -1
	case nb:
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}

// parseNumber reads a context's numeric version (see compareSemver).
func (v *semver) parseNumber(n any) bool {
	var buf [32]byte
	var b []byte
	switch t := n.(type) {
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
			return false
		}
		b = strconv.AppendFloat(buf[:0], t, 'f', -1, 64)
	case int64:
		b = strconv.AppendInt(buf[:0], t, 10)
	case int:
		b = strconv.AppendInt(buf[:0], int64(t), 10)
	default:
		return false
	}
	return v.parseLenient(string(b))
}
