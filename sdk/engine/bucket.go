package engine

import (
	"encoding/json"
	"math"
	"math/bits"
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

// keyHash is murmur3_x86_32 (seed 0) of a flag key run ahead: the state
// after the key's whole 4-byte blocks, and the 0–3 bytes left over. A split
// hashes flagKey+value on every evaluation; continuing from here it neither
// copies the key into a buffer nor hashes it again. Hash, which the tests
// hold to the murmur3 library and an independent implementation, is the
// reference it must match.
type keyHash struct {
	h    uint32
	tail uint32 // the key's last len%4 bytes, little-endian
	n    int    // len(flagKey)
}

const (
	murmurC1 = 0xcc9e2d51
	murmurC2 = 0x1b873593
)

func newKeyHash(flagKey string) keyHash {
	k := keyHash{n: len(flagKey)}
	i := 0
	for ; i+4 <= len(flagKey); i += 4 {
		k.h = murmurBlock(k.h, uint32(flagKey[i])|uint32(flagKey[i+1])<<8|uint32(flagKey[i+2])<<16|uint32(flagKey[i+3])<<24)
	}
	for j := 0; i+j < len(flagKey); j++ {
		k.tail |= uint32(flagKey[i+j]) << (8 * j)
	}
	return k
}

// murmurBlock mixes one little-endian 4-byte block into h.
func murmurBlock(h, k uint32) uint32 {
	k *= murmurC1
	k = bits.RotateLeft32(k, 15)
	k *= murmurC2
	h ^= k
	h = bits.RotateLeft32(h, 13)
	return h*5 + 0xe6546b64
}

// hashAfter returns murmur3_x86_32 (seed 0) of the flag key of k followed
// by v.
func hashAfter[T string | []byte](k *keyHash, v T) uint32 {
	h, acc, fill := k.h, k.tail, k.n&3 // acc holds fill pending bytes
	i := 0
	if fill > 0 {
		for ; fill < 4 && i < len(v); i++ {
			acc |= uint32(v[i]) << (8 * fill)
			fill++
		}
		if fill < 4 {
			return murmurFinish(h, acc, k.n+len(v))
		}
		h, acc, fill = murmurBlock(h, acc), 0, 0
	}
	for ; i+4 <= len(v); i += 4 {
		h = murmurBlock(h, uint32(v[i])|uint32(v[i+1])<<8|uint32(v[i+2])<<16|uint32(v[i+3])<<24)
	}
	for ; i < len(v); i++ {
		acc |= uint32(v[i]) << (8 * fill)
		fill++
	}
	return murmurFinish(h, acc, k.n+len(v))
}

// murmurFinish mixes in the last 0–3 bytes (tail, little-endian; mixing a
// zero tail changes nothing) and the length, and applies the final mix.
func murmurFinish(h, tail uint32, n int) uint32 {
	tail *= murmurC1
	tail = bits.RotateLeft32(tail, 15)
	tail *= murmurC2
	h ^= tail
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// bucketHash hashes the flag key followed by the canonical text of a bucket
// attribute value. ok is false when the value cannot be bucketed: nil, an
// empty string, a non-finite number or a type other than string, bool and
// numbers.
func (k *keyHash) bucketHash(v any) (h uint32, ok bool) {
	if s, isString := v.(string); isString {
		if s == "" {
			return 0, false
		}
		return hashAfter(k, s), true
	}
	// The longest canonical number, "-0.0000012345678901234567", fits.
	var buf [32]byte
	b := buf[:0]
	switch x := v.(type) {
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
	return hashAfter(k, b), true
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
