package transform

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestChannelStatsAndNormalize(t *testing.T) {
	var imgs []*tensor.Tensor
	for i := range 5 {
		img := randImage(uint64(50+i), 8, 10, 3)
		v := img.Values()
		for p := 0; p < len(v); p += 3 { // channel k has its own mean and spread
			v[p] = 0.2 + 0.1*v[p]
			v[p+2] = 0.5 + 0.4*v[p+2]
		}
		imgs = append(imgs, img)
	}
	mean, std, err := ChannelStatsOf(imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.25, 0.5, 0.7}
	for k := range 3 {
		if math.Abs(float64(mean[k])-want[k]) > 0.02 {
			t.Errorf("channel %d mean %.3f, want ≈%.2f", k, mean[k], want[k])
		}
	}
	n := Normalize{Mean: mean, Std: std}
	var all []float32
	for _, img := range imgs {
		all = append(all, n.Apply(img, nil).Values()...)
	}
	for k := range 3 {
		var ch []float32
		for i := k; i < len(all); i += 3 {
			ch = append(ch, all[i])
		}
		m, s := meanStd(ch)
		if math.Abs(m) > 1e-4 || math.Abs(s-1) > 1e-3 {
			t.Errorf("normalised channel %d: mean %.5f std %.5f, want 0 and 1", k, m, s)
		}
	}
}

func TestChannelStatsErrors(t *testing.T) {
	tests := []struct {
		name string
		imgs []*tensor.Tensor
		want string
	}{
		{"empty", nil, "no pixels"},
		{"mixed channels", []*tensor.Tensor{tensor.New(2, 2, 3), tensor.New(2, 2, 1)}, "1 channels after images with 3"},
		{"not an image", []*tensor.Tensor{tensor.New(4, 4)}, "want [H, W, C]"},
	}
	for _, tc := range tests {
		_, _, err := ChannelStats(slices.Values(tc.imgs))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	_, std, err := ChannelStatsOf([]*tensor.Tensor{tensor.Full(0.5, 3, 3, 1)})
	if err != nil || std[0] != 1 {
		t.Errorf("constant channel: std %v err %v, want std 1", std, err)
	}
}
