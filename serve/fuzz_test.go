package serve

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/deepscope/deepscope/data"
)

// fuzzSeeds are the bodies the fuzz targets start from: images, broken
// images and a bomb's header.
func fuzzSeeds(t testing.TB) [][]byte {
	good := cellPNG(t, 0, nil)
	var jp bytes.Buffer
	jpeg.Encode(&jp, imageOfSize(20, 12), nil)
	return [][]byte{good, good[:len(good)/2], jp.Bytes(), jp.Bytes()[:100], pngHeader(100000, 100000),
		pngHeader(2000, 2000), []byte("hello"), nil,
		[]byte("--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" + string(good) + "\r\n--x--\r\n")}
}

// FuzzDecode feeds arbitrary bodies, raw or as multipart, to the upload
// reader and the decoder: every outcome is an image within the limits or
// a 4xx error with a message, never a panic.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	const maxPixels = 1 << 14 // small, so that each run is quick
	f.Fuzz(func(t *testing.T, body []byte, multi bool) {
		req := httptest.NewRequest("POST", "/v1/predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", "image/png")
		if multi {
			req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		}
		ups, aerr := readUploads(req, 4)
		if aerr != nil {
			if aerr.Status < 400 || aerr.Status > 499 || aerr.Msg == "" {
				t.Fatalf("read: status %d %q", aerr.Status, aerr.Msg)
			}
			return
		}
		for _, u := range ups {
			img, aerr := decodeUpload(u, maxPixels)
			if aerr != nil {
				if aerr.Status < 400 || aerr.Status > 499 || aerr.Msg == "" {
					t.Fatalf("decode: status %d %q", aerr.Status, aerr.Msg)
				}
				continue
			}
			h, w, c := img.Dim(0), img.Dim(1), img.Dim(2)
			if h < 1 || w < 1 || h*w > maxPixels || (c != 1 && c != 3) {
				t.Fatalf("decoded shape %v", img.Shape)
			}
			for _, v := range img.Data {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("pixel value %g outside [0, 1]", v)
				}
			}
		}
	})
}

// FuzzPredict sends arbitrary bodies through the whole handler tree to the
// model: the answer is 200 or a 4xx, always JSON.
func FuzzPredict(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	s, err := New(Config{Dir: makeRun(f), Watch: -1, NoDrift: true, MaxPixels: 1 << 14, MaxWait: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body []byte, multi bool) {
		req := httptest.NewRequest("POST", "/v1/predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", "image/png")
		if multi {
			req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body)
		}
		if rec.Code == http.StatusOK {
			if _, err := data.DecodeBytes("x", body); err != nil && !multi {
				t.Fatalf("200 for a body the decoder refuses: %v", err)
			}
		}
	})
}
