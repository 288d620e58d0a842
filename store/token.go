package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// TokenPrefix starts every bearer secret scimbridge issues, so that leaked
// tokens are easy to recognise (for secret scanners) and to tell from other
// credentials.
const TokenPrefix = "scb_"

// NewTokenSecret returns a new bearer secret (TokenPrefix and 32 bytes from
// crypto/rand, base64url), the SHA-256 hash that is all the store keeps,
// and the short prefix shown in listings. The secret itself is shown once,
// at creation, and never stored or logged.
func NewTokenSecret() (secret string, hash []byte, prefix string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, "", fmt.Errorf("store: new token secret: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret), secret[:len(TokenPrefix)+6], nil
}

// HashToken is the hash under which a bearer secret is stored and looked
// up. Secrets are 256-bit random values, so a plain SHA-256 is enough: no
// dictionary to defend against, and lookups stay cheap.
func HashToken(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// NewID returns a random UUID (version 4, from crypto/rand) in its
// lower-case canonical form.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store: new id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
