package transform

import "math"

// Float32 logarithm and exponential for the per-pixel optical-density
// conversions of HEDJitter, which would otherwise spend most of their time
// in float64 math.Log and math.Exp. Both are accurate to a few parts in
// 10⁷ relative, far below 8-bit colour resolution.

// fastLn returns ln(x) for x > 0 (finite, normal).
func fastLn(x float32) float32 {
	b := math.Float32bits(x)
	e := int32(b>>23) - 127
	m := math.Float32frombits(b&0x007fffff | 0x3f800000) // [1, 2)
	if m > math.Sqrt2 {
		m *= 0.5
		e++
	}
	t := (m - 1) / (m + 1) // |t| <= 0.1716
	t2 := t * t
	p := t * (2 + t2*(2.0/3+t2*(2.0/5+t2*(2.0/7))))
	return float32(e)*math.Ln2 + p
}

// fastExp returns e^x, 0 for x < -87.
func fastExp(x float32) float32 {
	if x < -87 {
		return 0
	}
	if x > 88 {
		return float32(math.Inf(1))
	}
	k := float32(math.Floor(float64(x*math.Log2E + 0.5)))
	r := x - k*float32(math.Ln2)
	// exp(r) for |r| <= ln2/2 by its Taylor series to r⁶.
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}
