package program

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// devKeyFile is where serve keeps the API key it generates when no
// credentials are configured.
const devKeyFile = "api-key"

// ensureDevKey returns the generated API key under dataDir, creating it on
// first start. created reports whether this call made it.
func ensureDevKey(dataDir string) (key string, created bool, err error) {
	path := filepath.Join(dataDir, devKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= 32 {
			return k, false, nil
		}
		return "", false, fmt.Errorf("%s holds no usable key; delete it to generate a new one", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read generated API key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("create DATA_DIR: %w", err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	key = "fbk_" + base64.RawURLEncoding.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ensureDevKey(dataDir) // another process won the race
	}
	if err != nil {
		return "", false, fmt.Errorf("store generated API key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("store generated API key: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("store generated API key: %w", err)
	}
	return key, true, nil
}

// printDevKeyBanner tells a first-time user how to call the server. The key
// itself is printed only when it was just generated; later starts point at
// the file, so the key does not end up in every log.
func printDevKeyBanner(w io.Writer, dataDir, baseURL, key string, created bool) {
	path := filepath.Join(dataDir, devKeyFile)
	if created {
		fmt.Fprintf(w, "\nNo API_KEYS, JWT_SECRET or JWKS_URL set: generated an API key and stored it in %s\n\n    %s\n\nTry it:\n\n    curl -s -H 'X-API-Key: %s' %s/api/feedback\n\n", path, key, key, baseURL)
		return
	}
	fmt.Fprintf(w, "\nUsing the generated API key in %s. Try it:\n\n    curl -s -H \"X-API-Key: $(cat %s)\" %s/api/feedback\n\n", path, path, baseURL)
}
