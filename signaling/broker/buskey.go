package broker

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"

	"github.com/switchboard-rtc/switchboard/internal/contract"
)

// BusKey authenticates Redis bus messages (docs/redis.md §Bus message authentication):
// anyone who can PUBLISH on the Redis could otherwise forge, say, a relayed offer "from"
// another user. A signed message on the wire is
//
//	sb1.<base64url HMAC-SHA256(key, channel "\x00" json)>.<json>
//
// The channel is inside the MAC, so a message cannot be replayed onto another room or
// node. Several keys make a rotation without loss: the first signs, all verify.
type BusKey struct {
	keys  [][]byte
	pools []sync.Pool
}

// MinBusKeyBytes is the shortest accepted key (256 bits, the size of the MAC).
const MinBusKeyBytes = 32

const sealPrefix = "sb1."

var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// NewBusKey builds a key set: keys[0] signs, every key verifies.
func NewBusKey(keys ...[]byte) (*BusKey, error) {
	if len(keys) == 0 {
		return nil, errors.New("bus key: no key")
	}
	k := &BusKey{pools: make([]sync.Pool, len(keys))}
	for i, key := range keys {
		if len(key) < MinBusKeyBytes {
			return nil, fmt.Errorf("bus key %d is %d bytes; at least %d are required", i+1, len(key), MinBusKeyBytes)
		}
		key := bytes.Clone(key)
		k.keys = append(k.keys, key)
		k.pools[i].New = func() any { return hmac.New(sha256.New, key) }
	}
	return k, nil
}

// LoadBusKey reads a key file (--bus-key-file): one key per line, surrounding blanks
// ignored; the first line signs, every line verifies.
func LoadBusKey(path string) (*BusKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bus key: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			keys = append(keys, []byte(line))
		}
	}
	k, err := NewBusKey(keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func (k *BusKey) mac(i int, channel string, payload []byte, out []byte) []byte {
	h := k.pools[i].Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(channel))
	h.Write([]byte{0})
	h.Write(payload)
	out = h.Sum(out)
	k.pools[i].Put(h)
	return out
}

// Seal signs payload for channel with the first key.
func (k *BusKey) Seal(channel string, payload []byte) []byte {
	var sum [sha256.Size]byte
	mac := k.mac(0, channel, payload, sum[:0])
	out := make([]byte, 0, len(sealPrefix)+macLen+1+len(payload))
	out = append(out, sealPrefix...)
	out = base64.RawURLEncoding.AppendEncode(out, mac)
	out = append(out, '.')
	return append(out, payload...)
}

// Errors of Open, also the reasons counted in switchboard_redis_bus_rejected_total.
var (
	errUnsigned = errors.New("unsigned")
	errBadMAC   = errors.New("bad_mac")
)

// Open checks a sealed message received on channel and returns its payload.
func (k *BusKey) Open(channel string, sealed []byte) ([]byte, error) {
	payload, got, ok := splitSealed(sealed)
	if !ok {
		return nil, errUnsigned
	}
	var want [sha256.Size]byte
	for i := range k.keys {
		if hmac.Equal(k.mac(i, channel, payload, want[:0]), got) {
			return payload, nil
		}
	}
	return nil, errBadMAC
}

// splitSealed takes a sealed message apart (without checking the MAC).
func splitSealed(sealed []byte) (payload, mac []byte, ok bool) {
	if !bytes.HasPrefix(sealed, []byte(sealPrefix)) || len(sealed) < len(sealPrefix)+macLen+1 || sealed[len(sealPrefix)+macLen] != '.' {
		return sealed, nil, false
	}
	var sum [sha256.Size]byte
	n, err := base64.RawURLEncoding.Decode(sum[:], sealed[len(sealPrefix):len(sealPrefix)+macLen])
	if err != nil || n != sha256.Size {
		return sealed, nil, false
	}
	return sealed[len(sealPrefix)+macLen+1:], sum[:], true
}

// seal signs payload when the broker has a bus key.
func (b *Redis) seal(channel string, payload []byte) []byte {
	if b.opts.BusKey == nil {
		return payload
	}
	return b.opts.BusKey.Seal(channel, payload)
}

// open returns the payload of a received message, or false when it must be dropped
// (counted by reason). Without a bus key a signed message is accepted unchecked. With one,
// the only unsigned message accepted is the operator's media health notice on the control
// channel: the operator never reads the bus key Secret, and the notice only gates SFU use.
func (b *Redis) open(channel string, raw []byte) ([]byte, bool) {
	if b.opts.BusKey == nil {
		payload, _, _ := splitSealed(raw)
		return payload, true
	}
	payload, err := b.opts.BusKey.Open(channel, raw)
	if err == nil {
		return payload, true
	}
	if errors.Is(err, errUnsigned) && channel == contract.ControlChannel && isMediaHealthNotice(raw) {
		return raw, true
	}
	b.m.BusRejected.WithLabelValues(err.Error()).Inc()
	b.log.Debug("dropped a bus message that failed authentication", "channel", channel, "reason", err.Error())
	return nil, false
}

func isMediaHealthNotice(raw []byte) bool {
	var n struct {
		Type string `json:"type"`
		T    string `json:"t"`
	}
	return json.Unmarshal(raw, &n) == nil && n.T == "" && n.Type == contract.MediaHealthNoticeType
}
