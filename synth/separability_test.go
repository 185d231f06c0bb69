package synth

import (
	"math"
	"slices"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// meanColour is the image's mean R, G, B.
func meanColour(img *tensor.Tensor) []float64 {
	f := make([]float64, 3)
	v := img.Values()
	for i, x := range v {
		f[i%3] += float64(x)
	}
	for k := range f {
		f[k] /= float64(len(v) / 3)
	}
	return f
}

// radialProfile is a rotation-invariant description of the central cell:
// optical density (relative to the image's own background, which removes
// most of the light and stain-strength variation) averaged in rings about
// the centre, per channel, plus the fraction of very dark pixels per ring.
func radialProfile(img *tensor.Tensor) []float64 {
	n := img.Shape[0]
	v := img.Values()
	var bg [3]float64
	for k := range 3 {
		ch := make([]float64, 0, n*n)
		for i := k; i < len(v); i += 3 {
			ch = append(ch, float64(v[i]))
		}
		slices.Sort(ch)
		bg[k] = ch[len(ch)*95/100]
	}
	const rings = 8
	f := make([]float64, rings*4)
	cnt := make([]float64, rings)
	c := float64(n) / 2
	for y := range n {
		for x := range n {
			r := math.Hypot(float64(x)+0.5-c, float64(y)+0.5-c) / (0.5 * float64(n)) * rings
			ri := int(r)
			if ri >= rings {
				continue
			}
			cnt[ri]++
			p := v[(y*n+x)*3:]
			var tot float64
			for k := range 3 {
				od := -math.Log(max(float64(p[k]), 1e-3) / bg[k])
				f[ri*4+k] += od
				tot += od
			}
			if tot > 2 {
				f[ri*4+3]++
			}
		}
	}
	for i := range f {
		f[i] /= cnt[i/4]
	}
	return f
}

// nearestCentroidAccuracy standardises the features on the training half,
// fits one centroid per class and scores the test half.
func nearestCentroidAccuracy(train, test [][]float64, ytrain, ytest []int, classes int) float64 {
	d := len(train[0])
	mu, sd := make([]float64, d), make([]float64, d)
	for _, x := range train {
		for j, v := range x {
			mu[j] += v
			sd[j] += v * v
		}
	}
	for j := range d {
		mu[j] /= float64(len(train))
		sd[j] = math.Sqrt(max(sd[j]/float64(len(train))-mu[j]*mu[j], 1e-12))
	}
	cent := make([][]float64, classes)
	n := make([]float64, classes)
	for i, x := range train {
		if cent[ytrain[i]] == nil {
			cent[ytrain[i]] = make([]float64, d)
		}
		for j, v := range x {
			cent[ytrain[i]][j] += (v - mu[j]) / sd[j]
		}
		n[ytrain[i]]++
	}
	for c := range cent {
		for j := range cent[c] {
			cent[c][j] /= n[c]
		}
	}
	right := 0
	for i, x := range test {
		best, bd := -1, math.Inf(1)
		for c := range cent {
			var dd float64
			for j, v := range x {
				e := (v-mu[j])/sd[j] - cent[c][j]
				dd += e * e
			}
			if dd < bd {
				best, bd = c, dd
			}
		}
		if best == ytest[i] {
			right++
		}
	}
	return float64(right) / float64(len(test))
}

// TestClassesLearnableButNotTrivial checks, on 50 images per class, that
// the image's mean colour, the most obvious summary statistic, classifies
// poorly, while a rotation-invariant radial profile of the central cell
// (still only a nearest-centroid classifier) does far better: the classes
// differ, but in the cell's structure, not in the image's overall colour.
func TestClassesLearnableButNotTrivial(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 400 images")
	}
	cfg := Config{N: 400, Size: 64, Seed: 3, Difficulty: 0.5}
	items, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mcTr, mcTe, rpTr, rpTe [][]float64
	var yTr, yTe, sTr, sTe []int
	for i, it := range items {
		img := Render(cfg, it)
		if i%2 == 0 {
			mcTr, rpTr, yTr = append(mcTr, meanColour(img)), append(rpTr, radialProfile(img)), append(yTr, it.Label)
			sTr = append(sTr, it.Site)
		} else {
			mcTe, rpTe, yTe = append(mcTe, meanColour(img)), append(rpTe, radialProfile(img)), append(yTe, it.Label)
			sTe = append(sTe, it.Site)
		}
	}
	k := len(AllClasses())
	mc := nearestCentroidAccuracy(mcTr, mcTe, yTr, yTe, k)
	rp := nearestCentroidAccuracy(rpTr, rpTe, yTr, yTe, k)
	t.Logf("nearest centroid, 8 classes (chance 0.125): mean colour %.3f, radial profile %.3f", mc, rp)
	// The sites differ visibly: mean colour tells them apart.
	site := nearestCentroidAccuracy(mcTr, mcTe, sTr, sTe, 2)
	t.Logf("nearest centroid on mean colour predicts the site: %.3f", site)
	if site < 0.75 {
		t.Errorf("mean colour predicts the site in %.0f%% of images; the site effect is too weak", 100*site)
	}
	if mc > 0.5 {
		t.Errorf("mean colour alone classifies %.0f%% of images; classes are too easy", 100*mc)
	}
	if rp < mc+0.2 || rp < 0.5 {
		t.Errorf("radial profile classifies %.0f%% (mean colour %.0f%%); classes are not distinct enough", 100*rp, 100*mc)
	}
}
