package auth

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// MaxCredentialLen bounds an Authorization header and any single credential.
// Real tokens are a few hundred bytes; anything longer is refused before it
// is hashed, decoded or verified.
const MaxCredentialLen = 8 << 10

var (
	errTooLong     = errors.New("longer than 8 KiB")
	errEmpty       = errors.New("empty credential")
	errBadChar     = errors.New("contains a space, control or non-ASCII character")
	errNoScheme    = errors.New("no scheme")
	errBadScheme   = errors.New("scheme is not a token")
	errExtraFields = errors.New("more than one credential")
)

// ParseAuthorization splits an Authorization header value into its scheme and
// credential: "Bearer T" gives ("Bearer", "T"). The scheme is returned as
// written; compare it with strings.EqualFold. Surrounding spaces and tabs
// are ignored and one or more spaces may separate scheme and credential
// (RFC 9110 §11.4). It refuses values over MaxCredentialLen, a scheme that is
// not an RFC 9110 token, a missing or empty credential, and a credential
// with spaces, control characters or bytes outside printable ASCII. Errors
// wrap ErrUnauthorized and never contain the header.
func ParseAuthorization(header string) (scheme, credential string, err error) {
	if len(header) > MaxCredentialLen {
		return "", "", malformed(errTooLong)
	}
	header = strings.Trim(header, " \t")
	if header == "" {
		return "", "", malformed(errNoScheme)
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if !isToken(scheme) {
		return "", "", malformed(errBadScheme)
	}
	credential = strings.TrimLeft(rest, " ")
	if err := checkCredential(credential); err != nil {
		if errors.Is(err, errBadChar) && strings.ContainsRune(credential, ' ') {
			err = errExtraFields
		}
		return "", "", malformed(err)
	}
	return scheme, credential, nil
}

func malformed(err error) error {
	return fmt.Errorf("%w: malformed Authorization header: %w", ErrUnauthorized, err)
}

// checkCredential accepts 1 to MaxCredentialLen bytes of printable ASCII
// without spaces: every API key, token68 and JWT fits.
func checkCredential(c string) error {
	if c == "" {
		return errEmpty
	}
	if len(c) > MaxCredentialLen {
		return errTooLong
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] >= 0x7f {
			return errBadChar
		}
	}
	return nil
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
