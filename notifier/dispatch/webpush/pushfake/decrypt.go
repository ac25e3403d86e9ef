package pushfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// decrypt opens an aes128gcm push message body (RFC 8188 framing, RFC 8291
// keys) as the browser holding ua and auth would: the header names the
// application server's one-time public key, from which with ua the shared
// secret, and with auth and the salt the content key and nonce, are derived.
// Web Push allows exactly one record, ending in the delimiter 0x02 and zero
// padding.
func decrypt(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	const headerLen = 16 + 4 + 1
	if len(body) < headerLen {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt := body[:16]
	rs := binary.BigEndian.Uint32(body[16:20])
	idlen := int(body[20])
	if rs < 18 {
		return nil, fmt.Errorf("record size %d below the minimum 18", rs)
	}
	if idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes; Web Push puts the 65-byte sender key there", idlen)
	}
	if len(body) < headerLen+idlen+17 {
		return nil, errors.New("body too short for a record")
	}
	keyID := body[headerLen : headerLen+idlen]
	ciphertext := body[headerLen+idlen:]
	if uint64(len(ciphertext)) > uint64(rs) {
		return nil, fmt.Errorf("%d bytes of records with record size %d: Web Push allows one record", len(ciphertext), rs)
	}
	asPub, err := ecdh.P256().NewPublicKey(keyID)
	if err != nil {
		return nil, fmt.Errorf("sender key is not a P-256 point: %w", err)
	}
	shared, err := ua.ECDH(asPub)
	if err != nil {
		return nil, fmt.Errorf("ECDH: %w", err)
	}
	// RFC 8291 §3.4: IKM from the auth secret and the shared secret, bound
	// to both public keys.
	keyInfo := append(append([]byte("WebPush: info\x00"), ua.PublicKey().Bytes()...), keyID...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(keyInfo), 32)
	if err != nil {
		return nil, fmt.Errorf("derive IKM: %w", err)
	}
	// RFC 8188 §2.2 and §2.3: content key and nonce from the IKM and salt.
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, fmt.Errorf("derive content key: %w", err)
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, fmt.Errorf("derive nonce: %w", err)
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The only record is also the first: its sequence number 0 leaves the
	// nonce as derived.
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("the record does not end with the last-record delimiter 0x02")
	}
	return plain[:i], nil
}
