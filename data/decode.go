package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register JPEG
	_ "image/png"  // register PNG
	"io"
	"os"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/tiff" // register TIFF (8 and 16 bit)

	"github.com/deepscope/deepscope/tensor"
)

// Limits on the dimensions an image header may claim. They are checked with
// image.DecodeConfig before any pixel is decoded, so a small file that claims
// to be enormous (a decompression bomb) is refused without allocating.
const (
	MaxSide   = 16384    // pixels on either side
	MaxPixels = 64 << 20 // width × height
	// MaxFileBytes bounds the size of an image file read into memory.
	MaxFileBytes = 1 << 30
)

// FileError is an error about one image or index file; Path names it.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return "data: " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

func fileErr(path string, format string, args ...any) *FileError {
	return &FileError{Path: path, Err: fmt.Errorf(format, args...)}
}

// ImageInfo is what an image's header says, read without decoding pixels.
type ImageInfo struct {
	Format   string // "png", "jpeg", "bmp", "tiff" (or "npz" for array items)
	Width    int
	Height   int
	Channels int // 1 for grey, 3 otherwise (alpha is dropped on decoding)
	BitDepth int // 8 or 16
}

// Decode reads and decodes the image file at path; see DecodeBytes.
func Decode(path string) (*tensor.Tensor, error) {
	b, err := readFileInto(path, nil)
	if err != nil {
		return nil, err
	}
	return DecodeBytes(path, b)
}

// DecodeBytes decodes a PNG, JPEG, BMP or TIFF image (8 or 16 bit) held in
// b into a tensor [H, W, C] of values in [0, 1]; C is 1 for grey images and
// 3 otherwise (alpha is dropped). name is used only in error messages. The
// format is recognised from the content, not from name's extension. Empty,
// truncated, unrecognised and oversized images give a *FileError.
func DecodeBytes(name string, b []byte) (*tensor.Tensor, error) {
	img, _, err := decodeImage(name, b)
	if err != nil {
		return nil, err
	}
	return imageToTensor(img), nil
}

// DecodeInfo reads only the header of the image in b.
func DecodeInfo(name string, b []byte) (ImageInfo, error) {
	cfg, format, err := decodeConfig(name, b)
	if err != nil {
		return ImageInfo{}, err
	}
	ch, depth := modelInfo(cfg.ColorModel)
	return ImageInfo{Format: format, Width: cfg.Width, Height: cfg.Height, Channels: ch, BitDepth: depth}, nil
}

func decodeConfig(name string, b []byte) (cfg image.Config, format string, err error) {
	defer recoverDecoder(name, &err)
	if len(b) == 0 {
		return image.Config{}, "", fileErr(name, "empty file")
	}
	cfg, format, err = image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		switch {
		case errors.Is(err, image.ErrFormat):
			return cfg, "", fileErr(name, "not a PNG, JPEG, BMP or TIFF image (starts with %q)", head(b))
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return cfg, format, fileErr(name, "truncated %s header", format)
		}
		return cfg, format, fileErr(name, "bad %s header: %v", format, err)
	}
	switch {
	case cfg.Width <= 0 || cfg.Height <= 0:
		return cfg, format, fileErr(name, "%s header claims %dx%d pixels", format, cfg.Width, cfg.Height)
	case cfg.Width > MaxSide || cfg.Height > MaxSide || int64(cfg.Width)*int64(cfg.Height) > MaxPixels:
		return cfg, format, fileErr(name, "%s header claims %dx%d pixels, over the limit of %d a side and %d in all",
			format, cfg.Width, cfg.Height, MaxSide, MaxPixels)
	}
	return cfg, format, nil
}

func decodeImage(name string, b []byte) (img image.Image, format string, err error) {
	if _, _, err := decodeConfig(name, b); err != nil {
		return nil, "", err
	}
	defer recoverDecoder(name, &err)
	img, format, err = image.Decode(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, format, fileErr(name, "truncated %s", format)
		}
		if strings.Contains(err.Error(), "not enough pixel data") {
			return nil, format, fileErr(name, "truncated %s (%v)", format, err)
		}
		return nil, format, fileErr(name, "bad %s: %v", format, err)
	}
	return img, format, nil
}

// recoverDecoder turns a panic inside a third-party decoder on malformed
// input into an error naming the file, so bad data never crashes a run.
func recoverDecoder(name string, err *error) {
	if r := recover(); r != nil {
		*err = fileErr(name, "decoder failed on malformed data: %v", r)
	}
}

// head returns the first bytes of b for an error message.
func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// unwrapPathError drops the path that os errors repeat, since FileError
// names the file already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// modelInfo maps a colour model to the channels and bit depth decoding gives.
func modelInfo(m color.Model) (channels, depth int) {
	switch m {
	case color.GrayModel:
		return 1, 8
	case color.Gray16Model:
		return 1, 16
	case color.RGBA64Model, color.NRGBA64Model:
		return 3, 16
	}
	return 3, 8
}

// extFormat returns the format a file name's extension promises ("" when
// the extension is not an image one).
func extFormat(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png":
		return "png"
	case ".jpg", ".jpeg":
		return "jpeg"
	case ".bmp":
		return "bmp"
	case ".tif", ".tiff":
		return "tiff"
	}
	return ""
}

// isImageName reports whether name has an image extension.
func isImageName(name string) bool { return extFormat(name) != "" }
