package serve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
)

// apiError is an answer with a 4xx or 5xx status and a JSON body.
type apiError struct {
	Status     int
	Msg        string
	RetryAfter int // seconds; 0: no Retry-After header
}

func (e *apiError) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// upload is one image file of a request, not yet decoded.
type upload struct {
	name string
	data []byte
}

// imageTypes are the media types a raw body or a part may declare.
var imageTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/jpg": true, "image/pjpeg": true,
	"image/bmp": true, "image/x-bmp": true, "image/x-ms-bmp": true,
	"image/tiff": true, "image/x-tiff": true, "application/octet-stream": true,
}

const acceptedTypes = "image/png, image/jpeg, image/bmp, image/tiff or application/octet-stream"

// readUploads reads the image files of a request: the whole body when its
// Content-Type is an image type, or each file part of a multipart/form-data
// body (parts without a file name are form fields and are skipped). At
// most maxImages are accepted.
func readUploads(r *http.Request, maxImages int) ([]upload, *apiError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, errorf(http.StatusUnsupportedMediaType, "no Content-Type: send an image as the body (%s) or images as multipart/form-data", acceptedTypes)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, errorf(http.StatusUnsupportedMediaType, "malformed Content-Type %q: %v", ct, err)
	}
	switch {
	case imageTypes[mt]:
		b, aerr := readAll(r.Body, "body")
		if aerr != nil {
			return nil, aerr
		}
		return []upload{{name: "body", data: b}}, nil
	case mt == "multipart/form-data":
		if params["boundary"] == "" {
			return nil, errorf(http.StatusBadRequest, "multipart/form-data without a boundary")
		}
		return readParts(r, maxImages)
	case strings.HasPrefix(mt, "image/"):
		return nil, errorf(http.StatusUnsupportedMediaType, "%s is not supported: send PNG, JPEG, BMP or TIFF", mt)
	}
	return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %s: send an image as the body (%s) or images as multipart/form-data", mt, acceptedTypes)
}

func readParts(r *http.Request, maxImages int) ([]upload, *apiError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "multipart body: %v", err)
	}
	var out []upload
	for n := 1; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if aerr := bodyError(err, "multipart body"); aerr.Status == http.StatusRequestEntityTooLarge {
				return nil, aerr
			}
			return nil, errorf(http.StatusBadRequest, "multipart body, part %d: %v", n, err)
		}
		name := p.FileName()
		if name == "" {
			p.Close()
			continue
		}
		if pt := p.Header.Get("Content-Type"); pt != "" {
			mt, _, err := mime.ParseMediaType(pt)
			if err != nil || !imageTypes[mt] {
				p.Close()
				return nil, errorf(http.StatusUnsupportedMediaType, "%s: Content-Type %s: want %s", name, pt, acceptedTypes)
			}
		}
		if len(out) == maxImages {
			p.Close()
			return nil, errorf(http.StatusRequestEntityTooLarge, "more than %d images in one request", maxImages)
		}
		b, aerr := readAll(p, name)
		p.Close()
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, upload{name: name, data: b})
	}
	if len(out) == 0 {
		return nil, errorf(http.StatusBadRequest, "the multipart body holds no file parts")
	}
	return out, nil
}

func readAll(r io.Reader, name string) ([]byte, *apiError) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, bodyError(err, name)
	}
	if len(b) == 0 {
		return nil, errorf(http.StatusBadRequest, "%s: empty; send an image", name)
	}
	return b, nil
}

// bodyError describes an error reading a request body.
func bodyError(err error, name string) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, "request body over the limit of %d bytes", mbe.Limit)
	}
	return errorf(http.StatusBadRequest, "%s: reading the body: %v", name, err)
}

// decodeUpload decodes one uploaded image, refusing it before decoding
// when its header claims more than maxPixels pixels.
func decodeUpload(u upload, maxPixels int) (*tensor.Tensor, *apiError) {
	info, err := data.DecodeInfo(u.name, u.data)
	if err != nil {
		return nil, decodeError(u.name, err)
	}
	if int64(info.Width)*int64(info.Height) > int64(maxPixels) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%s: %s of %dx%d pixels; this server takes at most %d pixels",
			u.name, info.Format, info.Width, info.Height, maxPixels)
	}
	img, err := data.DecodeBytes(u.name, u.data)
	if err != nil {
		return nil, decodeError(u.name, err)
	}
	return img, nil
}

func decodeError(name string, err error) *apiError {
	msg := err.Error()
	var fe *data.FileError
	if errors.As(err, &fe) {
		msg = fe.Path + ": " + fe.Err.Error()
	}
	status := http.StatusBadRequest
	if strings.Contains(msg, "over the limit") {
		status = http.StatusRequestEntityTooLarge
	}
	return &apiError{Status: status, Msg: msg}
}
