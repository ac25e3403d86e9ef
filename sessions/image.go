package sessions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CodeImageNotFound says a session exists but holds no such image (never
// attached, or already deleted). Transports answer it like
// SESSION_NOT_FOUND (404).
const CodeImageNotFound Code = "IMAGE_NOT_FOUND"

// The image types accepted, identified by their bytes, never by a name or a
// declared type.
const (
	MimePNG  = "image/png"
	MimeJPEG = "image/jpeg"
	MimeWebP = "image/webp"
	MimeGIF  = "image/gif"
)

// Image limits that are not deployment settings.
const (
	// MaxImageName bounds an image's file name, in characters.
	MaxImageName = 100
	// MaxImagePixels bounds width × height, so that no image sent to a
	// person's browser is a decompression bomb.
	MaxImagePixels = 64_000_000
)

// ImageInput is an image in a request, in the shape of MCP image content:
// base64 data (standard alphabet, padding optional), a MIME type, and an
// optional file name.
type ImageInput struct {
	Data     string `json:"data"`
	MimeType string `json:"mimeType,omitempty"`
	Name     string `json:"name,omitempty"`
}

// Image is the reference to a stored image that a session record holds;
// the bytes live in an ImageStore, never in the record.
type Image struct {
	ID       string `json:"id"`
	Name     string `json:"name"`     // sanitized; safe as a download file name
	MimeType string `json:"mimeType"` // sniffed from the bytes
	Size     int64  `json:"size"`     // bytes
	SHA256   string `json:"sha256"`   // hex
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// ImageStore keeps image bytes, per session. Implementations must bound how
// long bytes live to at least the longest a session can live.
type ImageStore interface {
	// Put stores data as img.ID of session sessionID.
	Put(ctx context.Context, sessionID string, img Image, data []byte) error
	// Get returns a reader of the image's bytes, or ErrNotFound. The caller
	// closes it.
	Get(ctx context.Context, sessionID, imageID string) (io.ReadCloser, error)
	// Delete removes images of a session; missing ones are no error.
	Delete(ctx context.Context, sessionID string, imageIDs ...string) error
	// DeleteSession removes every image stored for a session, including any
	// a failed request left behind.
	DeleteSession(ctx context.Context, sessionID string) error
}

// decodedImage is an image checked and ready to store.
type decodedImage struct {
	ref  Image
	data []byte
}

// decodeImages checks the images of one side of a session: at most
// MaxImages, each valid base64 of at most MaxImageBytes of PNG, JPEG, WebP or
// GIF. The declared mimeType, when given, must name one of those four; when
// it disagrees with the bytes, the bytes win. Every image gets a new ID and
// a sanitized name. Nothing is stored.
func (l Limits) decodeImages(field string, in []ImageInput) ([]decodedImage, error) {
	maxImages, maxBytes := l.imageLimits()
	if len(in) > maxImages {
		return nil, Invalid(field, fmt.Sprintf("at most %d images are allowed, got %d", maxImages, len(in)))
	}
	out := make([]decodedImage, 0, len(in))
	for i, img := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		d, err := decodeImage(f, img, maxBytes, i+1)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func decodeImage(field string, in ImageInput, maxBytes int64, n int) (decodedImage, error) {
	if in.MimeType != "" {
		if _, err := acceptedMime(in.MimeType); err != nil {
			return decodedImage{}, Invalid(field+".mimeType", err.Error())
		}
	}
	if in.Data == "" {
		return decodedImage{}, Invalid(field+".data", "is required: the image's bytes in base64")
	}
	if strings.HasPrefix(in.Data, "data:") {
		return decodedImage{}, Invalid(field+".data", "must be the base64 bytes alone, without a data: URL prefix")
	}
	// Refuse before decoding: base64 holds 3 bytes in 4 characters.
	if int64(len(in.Data))/4*3 > maxBytes+3 {
		return decodedImage{}, Invalid(field, fmt.Sprintf("is larger than %s; each image may be at most %s", mib(int64(len(in.Data))/4*3), mib(maxBytes)))
	}
	data, err := decodeBase64(in.Data)
	if err != nil {
		return decodedImage{}, Invalid(field+".data", "is not valid base64")
	}
	if int64(len(data)) > maxBytes {
		return decodedImage{}, Invalid(field, fmt.Sprintf("is %s; each image may be at most %s", mib(int64(len(data))), mib(maxBytes)))
	}
	mt, w, h, err := sniffImage(data)
	if err != nil {
		return decodedImage{}, Invalid(field, err.Error())
	}
	sum := sha256.Sum256(data)
	return decodedImage{
		ref: Image{
			ID:       NewID(),
			Name:     SanitizeImageName(in.Name, mt, n),
			MimeType: mt,
			Size:     int64(len(data)),
			SHA256:   hex.EncodeToString(sum[:]),
			Width:    w,
			Height:   h,
		},
		data: data,
	}, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}

// acceptedMime checks a declared type: one of the four, or image/jpg for
// JPEG.
func acceptedMime(declared string) (string, error) {
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return "", fmt.Errorf("%q is not a MIME type", Preview(declared, 64))
	}
	switch mt {
	case MimePNG, MimeJPEG, MimeWebP, MimeGIF:
		return mt, nil
	case "image/jpg":
		return MimeJPEG, nil
	}
	return "", fmt.Errorf("%s is not accepted: send PNG, JPEG, WebP or GIF", Preview(mt, 64))
}

// sniffImage identifies data by its signature, then reads its header: a
// file that starts like a PNG but is not one, an SVG, HTML or anything else
// is refused. It returns the type and the dimensions.
func sniffImage(data []byte) (mt string, width, height int, err error) {
	var cfg image.Config
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		mt = MimePNG
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		mt = MimeJPEG
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		mt = MimeGIF
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case len(data) >= 12 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		mt = MimeWebP
		cfg, err = webpConfig(data)
	default:
		return "", 0, 0, fmt.Errorf("is not a PNG, JPEG, WebP or GIF image%s", describeNonImage(data))
	}
	if err != nil {
		return "", 0, 0, fmt.Errorf("is not a valid %s image", strings.ToUpper(strings.TrimPrefix(mt, "image/")))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, fmt.Errorf("has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return "", 0, 0, fmt.Errorf("is %d×%d pixels; at most %d million pixels are allowed", cfg.Width, cfg.Height, MaxImagePixels/1_000_000)
	}
	return mt, cfg.Width, cfg.Height, nil
}

// describeNonImage says what a refused file looks like, when that helps.
func describeNonImage(data []byte) string {
	head := strings.ToLower(string(bytes.TrimSpace(data[:min(len(data), 512)])))
	switch {
	case strings.Contains(head, "<svg"):
		return " (SVG is refused: it can carry scripts)"
	case strings.HasPrefix(head, "<!doctype html") || strings.Contains(head, "<html") || strings.Contains(head, "<script"):
		return " (this is HTML)"
	}
	return ""
}

// webpConfig reads the canvas size of a WebP file (lossy VP8, lossless VP8L
// or extended VP8X), enough to know it is one.
func webpConfig(data []byte) (image.Config, error) {
	bad := fmt.Errorf("malformed WebP")
	if len(data) < 30 || int(binary.LittleEndian.Uint32(data[4:8])) < 22 {
		return image.Config{}, bad
	}
	chunk := string(data[12:16])
	p := data[20:]
	switch chunk {
	case "VP8 ":
		// Frame tag (3 bytes), start code 9d 01 2a, then 14-bit sizes.
		if p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a {
			return image.Config{}, bad
		}
		w := int(binary.LittleEndian.Uint16(p[6:8]) & 0x3fff)
		h := int(binary.LittleEndian.Uint16(p[8:10]) & 0x3fff)
		return image.Config{Width: w, Height: h}, nil
	case "VP8L":
		if p[0] != 0x2f {
			return image.Config{}, bad
		}
		bits := binary.LittleEndian.Uint32(p[1:5])
		return image.Config{Width: int(bits&0x3fff) + 1, Height: int(bits>>14&0x3fff) + 1}, nil
	case "VP8X":
		w := int(uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16)
		h := int(uint32(p[7]) | uint32(p[8])<<8 | uint32(p[9])<<16)
		return image.Config{Width: w + 1, Height: h + 1}, nil
	}
	return image.Config{}, bad
}

// extensions are the file name endings that fit each type; the first is
// the one added when a name has none that fits.
var extensions = map[string][]string{
	MimePNG:  {".png"},
	MimeJPEG: {".jpg", ".jpeg", ".jpe", ".jfif"},
	MimeWebP: {".webp"},
	MimeGIF:  {".gif"},
}

// SanitizeImageName makes a file name safe to store and to offer in a
// Content-Disposition header: no directories, no control or invisible
// formatting characters (such as right-to-left overrides), no leading dots,
// at most MaxImageName characters, and an extension that fits the sniffed
// type (added when missing or different). An empty result becomes
// "image-<n>.<ext>".
func SanitizeImageName(name, mimeType string, n int) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '"':
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	exts := extensions[mimeType]
	if len(exts) == 0 {
		exts = []string{""}
	}
	if name == "" {
		return fmt.Sprintf("image-%d%s", n, exts[0])
	}
	ext := strings.ToLower(path.Ext(name))
	fits := false
	for _, e := range exts {
		fits = fits || ext == e
	}
	if !fits {
		ext = exts[0]
		name += ext
	}
	if utf8.RuneCountInString(name) > MaxImageName {
		base := []rune(strings.TrimSuffix(name, name[len(name)-len(ext):]))
		name = strings.TrimSpace(string(base[:MaxImageName-utf8.RuneCountInString(ext)])) + name[len(name)-len(ext):]
	}
	return name
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
