package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// StaticPrefix is the URL path under which the edge must mount Static: the
// templates link to assets as StaticPrefix + a content-hashed name.
const StaticPrefix = "/static/"

//go:embed static
var staticFS embed.FS

// asset is one embedded static file.
type asset struct {
	name        string // as stored, e.g. feedback.css
	hash        string // first bytes of the SHA-256 of body, in hex
	hashedName  string // e.g. feedback.1a2b3c4d5e.css
	contentType string
	body        []byte
}

// assets holds every static file under both its plain and its hashed name.
type assets struct {
	byName   map[string]*asset
	byHashed map[string]*asset
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		hash := hex.EncodeToString(sum[:5])
		f := &asset{
			name:        name,
			hash:        hash,
			hashedName:  strings.TrimSuffix(name, ext) + "." + hash + ext,
			contentType: ct,
			body:        body,
		}
		a.byName[f.name] = f
		a.byHashed[f.hashedName] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return a, nil
}

// url returns the path a page links to for the static file name.
func (a *assets) url(name string) (string, error) {
	f, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return StaticPrefix + f.hashedName, nil
}

// builtAssets is loaded once: the files are compiled in and cannot change.
var builtAssets, builtAssetsErr = loadAssets()

// Static serves the page's CSS, script and icon. Mount it at StaticPrefix
// (http.StripPrefix is not needed; only the last path element is looked at).
// Content-hashed names, the ones the templates link to, are cached for a
// year as immutable; plain names (feedback.css) are served too but must be
// revalidated. Anything else is 404. Only GET and HEAD are allowed.
//
// With a fasthttp/fiber edge, wrap it with fiber's adaptor.HTTPHandler.
func Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		if builtAssetsErr != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		name := path.Base(r.URL.Path)
		h := w.Header()
		f, hashed := builtAssets.byHashed[name]
		if hashed {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else if f = builtAssets.byName[name]; f != nil {
			h.Set("Cache-Control", "no-cache")
		} else {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+f.hash+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}
