package edge

import (
	"io"

	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/sessions"
)

// Images of questions and answers (docs/api.md, "Images"): the owner reads
// them at /api/feedback/{id}/images/{imageId} with credentials, the page at
// /feedback/{id}/images/{imageId} with the session id as its capability.
// Both serve only images the session's record still references.

// imageCSP forbids everything but the image itself: opened on its own, an
// image document can run nothing, even if a browser were fooled about its
// type.
const imageCSP = "default-src 'none'; img-src 'self'; sandbox"

// imageCacheControl lets the person's browser keep an image (its bytes never
// change under its id) but no shared cache: it belongs to one session.
const imageCacheControl = "private, max-age=3600, immutable"

func (s *Server) handleOwnerImage(c *fiber.Ctx) error {
	ref, rc, err := s.svc.OwnerImage(c.UserContext(), principal(c).ID, c.Params("id"), c.Params("imageId"))
	if err != nil {
		return s.fail(c, err)
	}
	return sendImage(c, ref, rc)
}

// handleImage serves an image to whoever holds the session's id. Errors
// are envelopes, as on /feedback/{id}/state: an <img> shows none of them.
func (p *pages) handleImage(c *fiber.Ctx) error {
	ref, rc, err := p.s.svc.PageImage(c.UserContext(), c.Params("id"), c.Params("imageId"))
	if err != nil {
		return p.s.fail(c, err)
	}
	return sendImage(c, ref, rc)
}

// sendImage streams an image with the type sniffed when it was stored, and
// the headers that keep a browser from treating it as anything else.
func sendImage(c *fiber.Ctx, ref sessions.Image, rc io.ReadCloser) error {
	c.Set(fiber.HeaderContentType, ref.MimeType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentDisposition, contentDisposition(ref.Name))
	c.Set(fiber.HeaderContentSecurityPolicy, imageCSP)
	c.Set(fiber.HeaderCacheControl, imageCacheControl)
	etag := `"` + ref.SHA256 + `"`
	c.Set(fiber.HeaderETag, etag)
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		_ = rc.Close()
		return c.SendStatus(fiber.StatusNotModified)
	}
	// fasthttp closes the reader once the body is written (or skipped, for
	// HEAD).
	c.Response().SetBodyStream(rc, int(ref.Size))
	return nil
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// contentDisposition offers the image inline under its (already sanitized)
// name: an ASCII fallback in filename, the exact name in filename* (RFC
// 6266, RFC 8187).
func contentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		switch {
		case r > unicode.MaxASCII || r < 0x20 || r == 0x7f:
			return '_'
		case r == '"' || r == '\\' || r == '%' || r == ';':
			return '_'
		}
		return r
	}, name)
	v := `inline; filename="` + fallback + `"`
	if fallback != name {
		v += "; filename*=UTF-8''" + extValue(name)
	}
	return v
}

// extValue percent-encodes every byte of s that is not an attr-char of
// RFC 8187.
func extValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
