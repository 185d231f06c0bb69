package cuda

// ToKRSC re-lays convolution weights from PyTorch's [Out, In, K, K] (src)
// into cuDNN's channels-last filter layout [Out, K, K, In] (dst).
func ToKRSC(dst, src []float32, out, in, k int) {
	kk := k * k
	for o := 0; o < out; o++ {
		for c := 0; c < in; c++ {
			for r := 0; r < kk; r++ {
				dst[(o*kk+r)*in+c] = src[(o*in+c)*kk+r]
			}
		}
	}
}

// FromKRSC is the inverse of ToKRSC: [Out, K, K, In] (src) into
// [Out, In, K, K] (dst).
func FromKRSC(dst, src []float32, out, in, k int) {
	kk := k * k
	for o := 0; o < out; o++ {
		for c := 0; c < in; c++ {
			for r := 0; r < kk; r++ {
				dst[(o*in+c)*kk+r] = src[(o*kk+r)*in+c]
			}
		}
	}
}
