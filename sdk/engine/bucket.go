package engine

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/twmb/murmur3"
)

// Bucket returns the bucket in [0, totalWeight) of a split for a flag key and
// bucket value: murmur3_x86_32(seed 0, flagKey+value) * totalWeight >> 32,
// bit-compatible with flagd's fractional. A totalWeight below 1 gives 0.
func Bucket(flagKey, value string, totalWeight int) int {
	if totalWeight <= 0 {
		return 0
	}
	return int(bucketOf(Hash(flagKey, value), uint64(totalWeight)))
}

// Hash returns murmur3_x86_32 with seed 0 of the UTF-8 bytes of
// flagKey+value, the hash a split buckets on. It does not allocate for keys
// and values of ordinary length.
func Hash(flagKey, value string) uint32 {
	var buf [hashBufSize]byte
	b := append(buf[:0], flagKey...)
	b = append(b, value...)
	return murmur3.Sum32(b)
}

// hashBufSize holds a flag key (at most 128 bytes) and a typical bucket
// value on the stack; longer inputs spill to the heap.
const hashBufSize = 256

func bucketOf(h uint32, totalWeight uint64) uint64 {
	return uint64(h) * totalWeight >> 32
}

// bucketHash hashes flagKey followed by the canonical text of a bucket
// attribute value. ok is false when the value cannot be bucketed: nil, an
// empty string, a non-finite number or a type other than string, bool and
// numbers.
func bucketHash(flagKey string, v any) (h uint32, ok bool) {
	var buf [hashBufSize]byte
	b := append(buf[:0], flagKey...)
	switch x := v.(type) {
	case string:
		if x == "" {
			return 0, false
		}
		b = append(b, x...)
	case bool:
		b = strconv.AppendBool(b, x)
	case float64:
		if b, ok = appendNumber(b, x); !ok {
			return 0, false
		}
	case float32:
		if b, ok = appendNumber(b, float64(x)); !ok {
			return 0, false
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			b = strconv.AppendInt(b, i, 10)
		} else if f, err := x.Float64(); err == nil {
			if b, ok = appendNumber(b, f); !ok {
				return 0, false
			}
		} else {
			return 0, false
		}
	default:
		i, u, isInt, isUint := integer(v)
		switch {
		case isInt:
			b = strconv.AppendInt(b, i, 10)
		case isUint:
			b = strconv.AppendUint(b, u, 10)
		default:
			return 0, false
		}
	}
	return murmur3.Sum32(b), true
}

// appendNumber appends f as JavaScript's Number.prototype.toString writes
// it: whole numbers below 1e21 without a fraction, plain decimals between
// 1e-6 and 1e21, exponent notation ("1e+21", "1.5e-7") outside.
func appendNumber(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	if f == 0 {
		return append(b, '0'), true
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64), true
	}
	// Go writes "1e-07" and "1e+21"; JavaScript writes "1e-7" and "1e+21".
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	for i := start; i < len(b); i++ {
		if b[i] == 'e' && i+2 < len(b) && b[i+2] == '0' && i+3 < len(b) {
			b = append(b[:i+2], b[i+3:]...)
			break
		}
	}
	return b, true
}

// integer reports the value of any Go integer type.
func integer(v any) (i int64, u uint64, isInt, isUint bool) {
	switch x := v.(type) {
	case int:
		return int64(x), 0, true, false
	case int64:
		return x, 0, true, false
	case int32:
		return int64(x), 0, true, false
	case int16:
		return int64(x), 0, true, false
	case int8:
		return int64(x), 0, true, false
	case uint:
		return 0, uint64(x), false, true
	case uint64:
		return 0, x, false, true
	case uint32:
		return 0, uint64(x), false, true
	case uint16:
		return 0, uint64(x), false, true
	case uint8:
		return 0, uint64(x), false, true
	}
	return 0, 0, false, false
}
