package serve

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

const testSize = 32

// testData is a synthetic dataset shared by the tests (made in TestMain).
var testData string

func TestMain(m *testing.M) {
	tensor.SetThreads(2)
	dir, err := os.MkdirTemp("", "serve-test-")
	if err != nil {
		panic(err)
	}
	testData, err = synth.Generate(filepath.Join(dir, "data"), synth.Config{N: 400, Size: testSize, Seed: 11})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testClasses() []string {
	var cs []string
	for _, c := range synth.AllClasses() {
		cs = append(cs, c.String())
	}
	return cs
}

// makeRun writes a run directory with an untrained CellNet (weights drawn
// from seed), the shared synthetic data as its data and one epoch of
// metrics: what serve needs, without the minutes of a training run.
func makeRun(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info := train.RunInfo{Config: train.Config{Data: testData, Model: "cellnet", Size: testSize, Crop: 1, Seed: 1},
		Classes: testClasses(), Channels: 3, Mean: []float32{0.85, 0.75, 0.78}, Std: []float32{0.13, 0.14, 0.12}}
	writeFile(t, filepath.Join(dir, train.RunFile), info)
	writeFile(t, filepath.Join(dir, train.MetricsFile), train.EpochLog{Epoch: 1, ValAccuracy: 0.5, ValAUC: 0.8, Best: true})
	writeWeights(t, dir, 1)
	return dir
}

func writeFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeWeights replaces RUN/best.safetensors with weights drawn from seed.
func writeWeights(t testing.TB, dir string, seed uint64) {
	t.Helper()
	net, err := models.New("cellnet", rand.New(rand.NewPCG(seed, 9)), models.Spec{Classes: len(testClasses()), Size: testSize})
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveFile(net, filepath.Join(dir, train.BestFile), nil); err != nil {
		t.Fatal(err)
	}
}

// newTestServer starts a server on dir behind an httptest server;
// change, when not nil, edits the config first.
func newTestServer(t testing.TB, dir string, change func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	cfg := Config{Dir: dir, Watch: -1}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

// cellPNG renders synthetic cell i of the test split as PNG; gain scales
// its channels (a colour shift) when not nil.
func cellPNG(t testing.TB, i int, gain []float32) []byte {
	t.Helper()
	cfg := synth.Config{N: 400, Size: testSize, Seed: 11}
	items, err := synth.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var test []synth.Item
	for _, it := range items {
		if it.Split == "test" {
			test = append(test, it)
		}
	}
	img := synth.Render(cfg, test[i%len(test)])
	out := image.NewNRGBA(image.Rect(0, 0, testSize, testSize))
	for p := 0; p < testSize*testSize; p++ {
		for c := 0; c < 3; c++ {
			v := img.Data[3*p+c]
			if gain != nil {
				v *= gain[c]
			}
			out.Pix[4*p+c] = uint8(min(max(v, 0), 1)*255 + 0.5)
		}
		out.Pix[4*p+3] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postImage sends b as the raw body of a POST with the given content type.
func postImage(t testing.TB, url, ctype string, b []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return do(t, req)
}

// multipartBody builds a multipart/form-data body with one file part per
// image, named cell<i>.png.
func multipartBody(t testing.TB, imgs [][]byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, b := range imgs {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="image"; filename="cell` + string(rune('a'+i%26)) + `.png"`}
		h["Content-Type"] = []string{"image/png"}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

// waitFor polls cond every 10ms for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// imageOfSize returns a grey w×h image.
func imageOfSize(w, h int) image.Image {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	return g
}

// pngHeader returns the start of a PNG that claims w×h RGB pixels and
// holds a few compressed rows: a decompression bomb's header.
func pngHeader(w, h int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 2, 0, 0, 0}
	writeChunk(&buf, "IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 3*w+1))
	zw.Close()
	writeChunk(&buf, "IDAT", z.Bytes())
	writeChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

func writeChunk(buf *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	buf.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	buf.WriteString(typ)
	buf.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	buf.Write(n[:])
}

// writeBytes replaces dir/name atomically.
func writeBytes(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}
