// Package report writes the results of a training run as one
// self-contained HTML page: headline numbers with confidence intervals and
// a few plain sentences at the top, then the per-class table, confusion
// matrix, ROC curves, reliability diagram, the most confident mistakes with
// their images, optional explanation figures and extra sections, the
// learning curves, the run's facts and its configuration.
//
// The charts are drawn here as inline SVG by a few small functions rather
// than by a plotting library: the page must open offline, carry no script,
// print well and stay readable years later, and the handful of chart kinds
// it needs (lines over epochs, a heat map, ROC curves, a reliability
// diagram) take less code to draw than to adapt. Images travel as data:
// URIs. Colours come from Okabe and Ito's palette and ColorBrewer's Blues,
// which stay distinct under the common colour-vision deficiencies.
//
// The page is built with html/template, so names, paths and captions taken
// from data are escaped; only Section.Body is inserted as given.
package report
