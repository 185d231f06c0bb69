package report

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/deepscope/deepscope/metrics"
)

const dash = "\u2013" // en dash, for ranges

// pct formats a fraction as a percentage with one decimal, "–" for NaN.
func pct(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// pctRange formats an interval of fractions as "97.0–98.1%".
func pctRange(iv metrics.Interval) string {
	if !iv.Valid() {
		return ""
	}
	return fmt.Sprintf("%.1f%s%.1f%%", 100*iv[0], dash, 100*iv[1])
}

// dec formats v with three decimals, "–" for NaN.
func dec(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf("%.3f", v)
}

// decRange formats an interval as "0.997–0.999".
func decRange(iv metrics.Interval) string {
	if !iv.Valid() {
		return ""
	}
	return fmt.Sprintf("%.3f%s%.3f", iv[0], dash, iv[1])
}

// auc formats an AUC with four decimals, so that 0.9996 does not read as a
// perfect 1.000.
func auc(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf("%.4f", v)
}

// aucRange formats an AUC interval with four decimals.
func aucRange(iv metrics.Interval) string {
	if !iv.Valid() {
		return ""
	}
	return fmt.Sprintf("%.4f%s%.4f", iv[0], dash, iv[1])
}

// count formats n with thousands separators: 3419 -> "3,419".
func count(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration formats d for a reader: "42 s", "7 min 5 s", "1 h 12 min".
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}
