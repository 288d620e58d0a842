package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook request.
const (
	HeaderSignature      = "Scimbridge-Signature"
	HeaderEventID        = "Scimbridge-Event-Id"
	HeaderSubscriptionID = "Scimbridge-Subscription-Id"
)

// SecretPrefix starts every webhook signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new webhook signing secret (SecretPrefix and 32
// bytes from crypto/rand, base64url) and the short prefix shown in
// listings. The HMAC key is the secret string itself, as bytes.
func NewSecret() (secret, prefix string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("events: new secret: %w", err)
	}
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, secret[:len(SecretPrefix)+6], nil
}

// Sign returns the Scimbridge-Signature header value of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("events: signature does not match")
	ErrStale        = errors.New("events: signature timestamp is outside the tolerance")
)

// Verify checks a Scimbridge-Signature header against body, as a receiver
// does: some v1 value must be the HMAC of "<t>.<body>" (compared in
// constant time), and t must be within tolerance of now (replay defence).
// Several v1 values are accepted, so that a header may carry the
// signatures of two secrets during a rotation.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
