package segment

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

// starMaps returns a star-convex head's ideal output for l: the true
// object probabilities and ray distances in pixels.
func starMaps(l *Labels, rays int) []float32 {
	st := newStarTargets(l, rays)
	n := 1 + rays
	out := make([]float32, len(l.Pix)*n)
	for p := range l.Pix {
		out[p*n] = float32(st.prob[p]) / 255
		if a := st.at[p]; a >= 0 {
			for k := range rays {
				out[p*n+1+k] = float32(st.dist[int(a)*rays+k]) / rayUnit
			}
		}
	}
	return out
}

func TestStarTargetsOfADisc(t *testing.T) {
	l := paint(41, 41, []disc{{20, 20, 10}})
	st := newStarTargets(l, 32)
	c := 20*41 + 20
	if st.prob[c] != 255 {
		t.Errorf("centre probability %d/255, want 255", st.prob[c])
	}
	for k := range 32 {
		d := float64(st.dist[int(st.at[c])*32+k]) / rayUnit
		if d < 9.3 || d > 10.8 {
			t.Errorf("ray %d from the centre: %.2f px, want 9.3 to 10.8 (the radius, to within the pixel grid)", k, d)
		}
	}
	if st.at[0] != -1 || st.prob[0] != 0 {
		t.Errorf("background pixel: at %d, prob %d; want -1, 0", st.at[0], st.prob[0])
	}
	// a one-pixel object has radius 0.5 along the axes
	one := NewLabels(5, 5)
	one.Pix[12] = 1
	if d := float64(newStarTargets(one, 4).dist[0]) / rayUnit; d != 0.5 {
		t.Errorf("one-pixel object: ray 0 is %.3f px, want 0.5", d)
	}
}

// TestTurnedCropRays checks that the crop's ray renumbering (turnPerms)
// gives the rays measured on the turned labels themselves, for all eight
// turns.
func TestTurnedCropRays(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const s = 48
	l := paint(s, s, randomDiscs(rng, s, s, 6, 4, 9, -1))
	l.Pix[5*s+40] = 99 // a lone pixel, and an irregular shape
	for y := 30; y < 40; y++ {
		for x := 2; x < 2+y-28; x++ {
			l.Pix[y*s+x] = 77
		}
	}
	const rays = 16
	base := newStarTargets(l, rays)
	perms := turnPerms(rays)
	for d := range 8 {
		tl := NewLabels(s, s)
		for i := range s {
			for j := range s {
				si, sj := turn(d, i, j, s)
				tl.Pix[i*s+j] = l.Pix[si*s+sj]
			}
		}
		want := newStarTargets(tl, rays)
		bad := 0
		for i := range s {
			for j := range s {
				si, sj := turn(d, i, j, s)
				a, b := want.at[i*s+j], base.at[si*s+sj]
				if (a < 0) != (b < 0) {
					t.Fatalf("turn %d: pixel (%d, %d) is object in one and not the other", d, i, j)
				}
				if a < 0 {
					continue
				}
				for k := range rays {
					if want.dist[int(a)*rays+k] != base.dist[int(b)*rays+perms[d][k]] {
						bad++
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("turn %d: %d ray distances differ from those measured on the turned labels", d, bad)
		}
	}
}

// TestRot90Rays checks that the test-time rotation's ray renumbering
// names each turned ray's direction in the unturned image.
func TestRot90Rays(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	l := paint(40, 30, randomDiscs(rng, 40, 30, 4, 4, 8, 1))
	const rays = 8
	maps := starMaps(l, rays)
	n := 1 + rays
	for k := range 4 {
		in := tensor.New(30, 40, 1)
		for i, v := range l.Pix {
			in.Data[i] = float32(v)
		}
		tt := transform.Rot90(in, k)
		tl := NewLabels(tt.Dim(1), tt.Dim(0))
		for i, v := range tt.Data {
			tl.Pix[i] = int32(v)
		}
		turned := tensor.New(tt.Dim(0), tt.Dim(1), n)
		copy(turned.Data, starMaps(tl, rays))
		back := transform.Rot90(turned, -k)
		perm := rot90Perm(rays, k)
		for p := range l.Pix {
			for j := range rays {
				if got, want := back.Data[p*n+1+j], maps[p*n+1+perm[j]]; math.Abs(float64(got-want)) > 0.07 {
					t.Fatalf("turn %d, pixel %d: turned ray %d is %.3f, unturned ray %d is %.3f", k, p, j, got, perm[j], want)
				}
			}
		}
	}
}

func TestStarInstancesFromIdealOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	discs := randomDiscs(rng, 96, 80, 14, 5, 10, -2) // touching
	l := paint(96, 80, discs)
	got := Instances(starMaps(l, 32), 96, 80, InstanceConfig{Rays: 32})
	s := Score(l, got)
	t.Logf("%d true, %d found: score %.3f, AP50 %.3f", s.True, s.Pred, s.Score, s.AP50)
	if s.AP50 < 0.99 || s.Score < 0.8 {
		t.Errorf("ideal star output: AP50 %.3f, score %.3f; want 1 and >= 0.8", s.AP50, s.Score)
	}
	// Suppression: with NMS at 0.99 every confident pixel keeps its own
	// polygon, so the objects come apart into many.
	loose := Instances(starMaps(l, 32), 96, 80, InstanceConfig{Rays: 32, NMS: 0.99})
	if loose.Max() <= got.Max() {
		t.Errorf("NMS 0.99 kept %d objects, not more than NMS 0.4's %d", loose.Max(), got.Max())
	}
}

func TestRasterPolygonSquare(t *testing.T) {
	// a square with corners at pixel centres' half-way points covers 4x4
	px, _ := rasterPolygon(nil, nil, []float64{0.5, 0.5, 4.5, 4.5}, []float64{0.5, 4.5, 4.5, 0.5}, 10, 10)
	if len(px) != 16 {
		t.Errorf("square 0.5..4.5: %d pixels, want 16", len(px))
	}
	// clipped at the image's edge
	px, _ = rasterPolygon(nil, nil, []float64{-3.5, -3.5, 1.5, 1.5}, []float64{-3.5, 1.5, 1.5, -3.5}, 10, 10)
	if len(px) != 4 {
		t.Errorf("square clipped to the corner: %d pixels, want 4", len(px))
	}
}

// TestStarLossGradient compares Backward with central differences.
func TestStarLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	const px, rays = 12, 4
	out := tensor.New(1, 3, 4, 1+rays)
	for i := range out.Data {
		out.Data[i] = float32(rng.NormFloat64())
	}
	prob := make([]float32, px)
	dist := make([]float32, px*rays)
	for p := range prob {
		if p%3 != 0 {
			prob[p] = rng.Float32()
			for k := range rays {
				dist[p*rays+k] = 10 * rng.Float32()
			}
		}
	}
	var sl starLoss
	sl.rays = rays
	sl.Forward(out, prob, dist)
	g := sl.Backward().Clone()
	for i := range out.Data {
		const h = 1e-3
		v := out.Data[i]
		out.Data[i] = v + h
		up := float64(sl.Forward(out, prob, dist))
		out.Data[i] = v - h
		down := float64(sl.Forward(out, prob, dist))
		out.Data[i] = v
		if num := (up - down) / (2 * h); math.Abs(num-float64(g.Data[i])) > 2e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("output %d: gradient %.5f, central difference %.5f", i, g.Data[i], num)
		}
	}
}

func TestStarHeadTrains(t *testing.T) {
	tensor.SetThreads(1)
	defer tensor.SetThreads(0)
	data := writeDataset(t, t.TempDir(), 16, 64, 7)
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(data)
	cfg.Head = HeadStar
	cfg.Instance.Rays = 16
	cfg.Epochs = 90
	sum, err := Train(context.Background(), cfg, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("star head: hold-out score %.3f at epoch %d; tuned %s", sum.Best, sum.BestEpoch, sum.Tuning.Instance.thresholds())
	m, _, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	img, truth := touchingNuclei()
	for _, tta := range []bool{false, true} {
		m.TTA = tta
		checkSegments(t, fmt.Sprintf("star head, TTA %v", tta), truth, m.Segment(img))
	}
}

func TestStarConfigRefusals(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Head = "flow" }, `head "flow"`},
		{func(c *Config) { c.Head = HeadStar; c.Instance.Rays = 30 }, "30 rays"},
		{func(c *Config) { c.Instance.Rays = 32 }, "rays belong"},
		{func(c *Config) { c.Head = HeadStar; c.Zoom = 0.5 }, "--zoom"},
		{func(c *Config) { c.Head = HeadStar; c.ContactWeight = 10 }, "--contact-weight"},
		{func(c *Config) { c.ContactWeight = -1 }, "contact weight -1"},
		{func(c *Config) { c.Head = HeadStar; c.Instance.MinConfidence = 0.8 }, "--min-confidence"},
		{func(c *Config) { c.Instance.MinConfidence = 1 }, "minimum confidence 1"},
		{func(c *Config) { c.ObjectCrops = 1.5 }, "object crops 1.5"},
		{func(c *Config) { c.Balance = -0.5 }, "balance -0.5"},
	} {
		cfg := Config{Data: "x"}
		c.edit(&cfg)
		err := cfg.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %+v: error %v, want one saying %q", cfg, err, c.want)
		}
	}
}
