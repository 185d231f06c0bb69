// Package serve puts a trained run on the network: an http.Handler with a
// JSON API for predictions and Grad-CAM explanations, a web page,
// Prometheus metrics and a drift watch.
//
// Routes:
//
//	POST /v1/predict   one image as the raw body (Content-Type image/png, image/jpeg,
//	                   image/bmp, image/tiff or application/octet-stream), or several
//	                   as multipart/form-data file parts -> class probabilities per image
//	POST /v1/explain   one image -> Grad-CAM heat map (JSON values and PNGs); ?class= picks the class
//	GET  /v1/models    name, version, classes, input size and training metrics of the model
//	GET  /v1/drift     drift scores of the recent inputs against the training distribution
//	POST /v1/reload    load the run's weights again (also done when best.safetensors changes)
//	GET  /healthz      the process is up
//	GET  /readyz       a model is loaded and the server is not shutting down
//	GET  /metrics      Prometheus metrics
//	GET  /             the web page
//
// One goroutine owns the model (a train.Model is not safe for concurrent
// use). Handlers decode and prepare images in parallel and hand them to it
// through a bounded queue; it gathers what is waiting into one batch, up to
// MaxBatch images or MaxWait after the first, as Triton's dynamic batcher
// does, and runs one forward pass for the whole batch. It waits only when
// more images may come (requests still being decoded, or a last batch of
// several), so a lone client is not delayed by MaxWait on every request. When the queue is
// full a request is refused at once with 503 and Retry-After rather than
// left to wait. A new model version is swapped in between two batches, so
// a reload drops no request.
//
// Bad input (not an image, truncated, too many pixels, a wrong content
// type, an empty or oversized body) gets a 4xx answer with a JSON body
// {"error": "...", "status": N} that says what is wrong; decoding goes
// through data.DecodeBytes, which checks the dimensions an image claims
// before decoding its pixels.
package serve
