package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/deepscope/deepscope/drift"
)

// metrics are the server's Prometheus collectors, in a registry of their
// own so that several servers can live in one process (tests do).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // route, code
	latency   *prometheus.HistogramVec // route
	batch     prometheus.Histogram
	infer     prometheus.Histogram
	wait      prometheus.Histogram
	rejected  prometheus.Counter
	predicted *prometheus.CounterVec // model class
	reloads   *prometheus.CounterVec // result
	model     *prometheus.GaugeVec   // name, version
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepscope_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "deepscope_http_request_duration_seconds", Help: "Time from a request's arrival to its answer, by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"route"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "deepscope_batch_size", Help: "Images per forward pass.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		infer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "deepscope_inference_duration_seconds", Help: "Time of one batch's forward pass (and test-time augmentation).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "deepscope_queue_wait_seconds", Help: "Time an image waits in the queue before its batch starts.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepscope_queue_rejected_total", Help: "Requests refused because the queue was full.",
		}),
		predicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepscope_predictions_total", Help: "Images served, by predicted (top) class.",
		}, []string{"class"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepscope_model_reloads_total", Help: "Model reloads by result: loaded, unchanged or failed.",
		}, []string{"result"}),
		model: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "deepscope_model_info", Help: "1 for the model version being served.",
		}, []string{"name", "version"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batch, m.infer, m.wait, m.rejected, m.predicted, m.reloads, m.model,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deepscope_queue_depth", Help: "Images waiting for the model.",
		}, func() float64 { return float64(s.b.depth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deepscope_queue_capacity", Help: "Images the queue holds before requests are refused.",
		}, func() float64 { return float64(s.cfg.Queue) }),
		driftCollector{s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// driftCollector exports the drift monitor's current report.
type driftCollector struct{ s *Server }

var (
	descDriftAlert = prometheus.NewDesc("deepscope_drift_alert",
		"1 when the recent inputs differ from the training distribution, 0 when not, -1 while the window fills or no reference is ready.", nil, nil)
	descDriftWindow = prometheus.NewDesc("deepscope_drift_window_images", "Images in the drift window.", nil, nil)
	descDriftKS     = prometheus.NewDesc("deepscope_drift_ks_statistic",
		"Kolmogorov-Smirnov D of a feature's window against its reference.", []string{"feature"}, nil)
	descDriftKSP = prometheus.NewDesc("deepscope_drift_ks_p_value",
		"p-value of the Kolmogorov-Smirnov test of a feature.", []string{"feature"}, nil)
	descDriftPSI = prometheus.NewDesc("deepscope_drift_psi",
		"Population stability index of a feature's window against its reference.", []string{"feature"}, nil)
	descDriftMMD  = prometheus.NewDesc("deepscope_drift_mmd2", "Squared MMD of the window's embeddings against the reference's.", nil, nil)
	descDriftMMDP = prometheus.NewDesc("deepscope_drift_mmd_p_value", "Permutation p-value of the MMD test.", nil, nil)
)

func (driftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDriftAlert, descDriftWindow, descDriftKS, descDriftKSP, descDriftPSI, descDriftMMD, descDriftMMDP} {
		ch <- d
	}
}

func (c driftCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.drift.Load()
	if st == nil || st.mon == nil {
		ch <- prometheus.MustNewConstMetric(descDriftAlert, prometheus.GaugeValue, -1)
		return
	}
	r := st.mon.Report()
	alert := map[string]float64{drift.StateAlert: 1, drift.StateOK: 0}[r.State]
	if r.State == drift.StateWarmingUp {
		alert = -1
	}
	ch <- prometheus.MustNewConstMetric(descDriftAlert, prometheus.GaugeValue, alert)
	ch <- prometheus.MustNewConstMetric(descDriftWindow, prometheus.GaugeValue, float64(r.Window))
	if r.State == drift.StateWarmingUp {
		return
	}
	for _, f := range r.Features {
		ch <- prometheus.MustNewConstMetric(descDriftKS, prometheus.GaugeValue, f.KS, f.Name)
		ch <- prometheus.MustNewConstMetric(descDriftKSP, prometheus.GaugeValue, f.PValue, f.Name)
		ch <- prometheus.MustNewConstMetric(descDriftPSI, prometheus.GaugeValue, f.PSI, f.Name)
	}
	ch <- prometheus.MustNewConstMetric(descDriftMMD, prometheus.GaugeValue, r.MMD)
	ch <- prometheus.MustNewConstMetric(descDriftMMDP, prometheus.GaugeValue, r.MMDPValue)
}
