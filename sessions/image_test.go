package sessions_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

func picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// noisePNG is a PNG that does not compress: about 4 bytes a pixel.
func noisePNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, picture(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// createWithImages validates a question carrying images and returns the
// error, if any.
func createWithImages(l sessions.Limits, imgs ...sessions.ImageInput) error {
	_, err := l.ValidateCreate(&sessions.CreateRequest{Message: "look", Images: imgs})
	return err
}

func TestImagesAreIdentifiedByTheirBytes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     []byte
		declared string
	}{
		{"png", encodePNG(t, 30, 20), "image/png"},
		{"jpeg", encodeJPEG(t, 30, 20), "image/jpeg"},
		{"jpeg declared jpg", encodeJPEG(t, 30, 20), "image/jpg"},
		{"gif", encodeGIF(t, 30, 20), "image/gif"},
		{"webp lossy", readFixture(t, "lossy.webp"), "image/webp"},
		{"webp lossless", readFixture(t, "lossless.webp"), "image/webp"},
		{"webp extended", readFixture(t, "extended.webp"), ""},
		{"png declared jpeg", encodePNG(t, 30, 20), "image/jpeg"},
		{"png with parameters", encodePNG(t, 30, 20), "image/png; name=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := sessions.ImageInput{Data: b64(tc.data), MimeType: tc.declared}
			if err := createWithImages(limits, in); err != nil {
				t.Fatal(err)
			}
			// Unpadded base64 is accepted too.
			in.Data = strings.TrimRight(in.Data, "=")
			if err := createWithImages(limits, in); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestImagesThatAreNotImagesAreRefused(t *testing.T) {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	pngHead := encodePNG(t, 4, 4)[:16]
	for _, tc := range []struct {
		name  string
		in    sessions.ImageInput
		field string
		says  string
	}{
		{"svg with a script", sessions.ImageInput{Data: b64(svg), MimeType: "image/svg+xml"}, "images[0].mimeType", "not accepted"},
		{"svg declared png", sessions.ImageInput{Data: b64(svg), MimeType: "image/png", Name: "cat.png"}, "images[0]", "SVG"},
		{"html renamed png", sessions.ImageInput{Data: b64(html), MimeType: "image/png", Name: "cat.png"}, "images[0]", "HTML"},
		{"html declared", sessions.ImageInput{Data: b64(html), MimeType: "text/html"}, "images[0].mimeType", "not accepted"},
		{"text", sessions.ImageInput{Data: b64([]byte("hello"))}, "images[0]", "not a PNG, JPEG, WebP or GIF"},
		{"png signature then junk", sessions.ImageInput{Data: b64(append(pngHead, "<script>"...))}, "images[0]", "not a valid PNG"},
		{"jpeg signature only", sessions.ImageInput{Data: b64([]byte("\xff\xd8\xff\xe0garbage"))}, "images[0]", "not a valid JPEG"},
		{"riff but not webp", sessions.ImageInput{Data: b64([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))}, "images[0]", "not a PNG"},
		{"webp truncated", sessions.ImageInput{Data: b64(readFixture(t, "lossy.webp")[:20])}, "images[0]", "not a valid WEBP"},
		{"bad mime", sessions.ImageInput{Data: b64(encodePNG(t, 2, 2)), MimeType: "not a type"}, "images[0].mimeType", "not a MIME type"},
		{"no data", sessions.ImageInput{MimeType: "image/png"}, "images[0].data", "required"},
		{"not base64", sessions.ImageInput{Data: "!!!not base64!!!"}, "images[0].data", "base64"},
		{"url-safe base64", sessions.ImageInput{Data: strings.NewReplacer("+", "-", "/", "_").Replace(b64(encodePNG(t, 64, 64)))}, "images[0].data", "base64"},
		{"data url", sessions.ImageInput{Data: "data:image/png;base64," + b64(encodePNG(t, 2, 2))}, "images[0].data", "data: URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := createWithImages(limits, tc.in)
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest || e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("err = %v, want INVALID_REQUEST on %q saying %q", err, tc.field, tc.says)
			}
		})
	}
}

func TestImageLimits(t *testing.T) {
	small := sessions.DefaultLimits(300e9, 3600e9)
	small.MaxImageBytes = 1000
	small.MaxImages = 2
	one := sessions.ImageInput{Data: b64(encodePNG(t, 4, 4))}
	if err := createWithImages(small, one, one); err != nil {
		t.Fatal(err)
	}
	err := createWithImages(small, one, one, one)
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images" || !strings.Contains(e.Message, "at most 2 images") {
		t.Fatalf("three images: %v", err)
	}
	big := noisePNG(t, 100, 100)
	err = createWithImages(small, one, sessions.ImageInput{Data: b64(big)})
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images[1]" || !strings.Contains(e.Message, "at most") {
		t.Fatalf("big image: %v", err)
	}
	// Far over the limit is refused before any decoding.
	err = createWithImages(small, sessions.ImageInput{Data: strings.Repeat("A", 1<<20)})
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images[0]" {
		t.Fatalf("huge image: %v", err)
	}
	// Zero limits mean the defaults: 4 images of 5 MiB.
	var zero sessions.Limits = sessions.DefaultLimits(300e9, 3600e9)
	zero.MaxImages, zero.MaxImageBytes = 0, 0
	if err := createWithImages(zero, one, one, one, one); err != nil {
		t.Fatal(err)
	}
	if err := createWithImages(zero, one, one, one, one, one); err == nil {
		t.Fatal("five images accepted")
	}
	// A decompression bomb: a small file of very many pixels.
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 10000, 6401))); err != nil {
		t.Fatal(err)
	}
	err = createWithImages(limits, sessions.ImageInput{Data: b64(b.Bytes())})
	if e, ok := err.(*sessions.Error); !ok || !strings.Contains(e.Message, "million pixels") {
		t.Fatalf("64 megapixels: %v (%d bytes)", err, b.Len())
	}
	// Answers have the same limits.
	sess := &sessions.Session{PredefinedOptions: []string{"a"}}
	err = small.ValidateSubmit(&sessions.SubmitRequest{Images: []sessions.ImageInput{one, one, one}}, sess)
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images" {
		t.Fatalf("answer with three images: %v", err)
	}
	if err := small.ValidateSubmit(&sessions.SubmitRequest{Images: []sessions.ImageInput{one}}, sess); err != nil {
		t.Fatalf("an image alone is an answer: %v", err)
	}
}

func TestSanitizeImageName(t *testing.T) {
	for _, tc := range []struct {
		name, mime string
		n          int
		want       string
	}{
		{"shot.png", sessions.MimePNG, 1, "shot.png"},
		{"Shot.PNG", sessions.MimePNG, 1, "Shot.PNG"},
		{"", sessions.MimePNG, 2, "image-2.png"},
		{"", sessions.MimeJPEG, 1, "image-1.jpg"},
		{"photo.jpeg", sessions.MimeJPEG, 1, "photo.jpeg"},
		{"photo.png", sessions.MimeJPEG, 1, "photo.png.jpg"},
		{"../../etc/passwd", sessions.MimeGIF, 1, "passwd.gif"},
		{`C:\Users\a\evil.html`, sessions.MimeWebP, 1, "evil.html.webp"},
		{"..", sessions.MimePNG, 3, "image-3.png"},
		{".hidden.png", sessions.MimePNG, 1, "hidden.png"},
		{"a\x00b\nc\u202egnp.exe", sessions.MimePNG, 1, "ab cgnp.exe.png"},
		{"tab\tand  spaces .png", sessions.MimePNG, 1, "tab and  spaces .png"},
		{"zero\u200bwidth.png", sessions.MimePNG, 1, "zerowidth.png"},
		{`say "hi".png`, sessions.MimePNG, 1, "say hi.png"},
		{"bad\xffutf8.png", sessions.MimePNG, 1, "badutf8.png"},
		{"截图 2026.png", sessions.MimePNG, 1, "截图 2026.png"},
		{strings.Repeat("图", 150) + ".png", sessions.MimePNG, 1, strings.Repeat("图", 96) + ".png"},
		{strings.Repeat("a", 150), sessions.MimeWebP, 1, strings.Repeat("a", 95) + ".webp"},
	} {
		got := sessions.SanitizeImageName(tc.name, tc.mime, tc.n)
		if got != tc.want {
			t.Errorf("SanitizeImageName(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if n := len([]rune(got)); n > sessions.MaxImageName {
			t.Errorf("%q is %d characters", got, n)
		}
	}
}
