package report

import "html/template"

// pageTemplate lays out the report. The page is also well-formed XML (every
// element closed, no named entities), which the tests check with
// encoding/xml; keep it so.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="deepscope {{.P.Run.Version}}"/>
<title>{{.P.Title}}</title>
<style>` + css + `</style>
</head>
<body>
<header>
<h1>{{.P.Title}}</h1>
<p class="sub">{{with .P.Dataset.Name}}{{.}} · {{end}}{{with .P.Run.Model}}{{.}} · {{end}}report of {{.Generated}}</p>
</header>

<section id="summary">
<div class="cards">
{{range .Headline}}<div class="card"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Range}}<div class="range">{{.}}</div>{{end}}<div class="hint">{{.Hint}}</div></div>
{{end}}</div>
<ul class="findings">
{{range .Findings}}<li>{{.}}</li>
{{end}}</ul>
{{with .Method}}<p class="note">{{.}}</p>{{end}}
{{with .P.Dataset.Citation}}<p class="note">Data: {{.}}</p>{{end}}
</section>

<section id="classes">
<h2>{{if .MultiLabel}}Per label{{else}}Per class{{end}}</h2>
<table class="classes">
<thead><tr><th class="name">{{if .MultiLabel}}Label{{else}}Class{{end}}</th><th>{{if .MultiLabel}}Positive images{{else}}Images{{end}}</th>
<th>Sensitivity<br/><span class="unit">recall</span></th><th class="bar">{{.Axis}}</th>
<th>Specificity</th><th>Precision<br/><span class="unit">PPV</span></th><th>F1</th><th>AUC</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td class="name">{{.Name}}</td><td>{{.Support}}</td>
<td>{{.Sens}}{{with .SensCI}}<span class="ci">{{.}}</span>{{end}}</td><td class="bar">{{.Bar}}</td>
<td>{{.Spec}}</td><td>{{.Prec}}{{with .PrecCI}}<span class="ci">{{.}}</span>{{end}}</td><td>{{.F1}}</td>
<td>{{.AUC}}{{with .AUCCI}}<span class="ci">{{.}}</span>{{end}}</td></tr>
{{end}}</tbody>
</table>
<p class="note">Each class against all others. Small figures under a value are its {{.Level}} confidence interval; the bar shows sensitivity with its interval.{{if .MultiLabel}} A label counts as predicted when its probability exceeds {{printf "%.2f" .P.Test.Threshold}}.{{end}}</p>
</section>

{{if .Confusion}}<section id="confusion">
<h2>Confusion matrix</h2>
<div class="row"><figure>{{.Confusion}}</figure>
{{with .TopErrors}}<div class="aside"><h3>Where the errors are</h3><ol class="errors">{{range .}}<li>{{.}}</li>{{end}}</ol></div>{{end}}</div>
<p class="note">Rows are the true class, columns the model's answer; right answers lie on the outlined diagonal. The numbers count images (empty cells: none); colour shows the share of the row, darker for more, on a square-root scale so that small error rates still show.</p>
</section>
{{end}}

{{if .ROC}}<section id="roc">
<h2>ROC curves</h2>
<ul class="legend">{{range .Legend}}<li>{{.Swatch}} <span class="lname">{{.Name}}</span> <span class="lauc">{{.AUC}}</span></li>{{end}}</ul>
<div class="row">{{range .ROC}}<figure>{{.}}</figure>{{end}}</div>
<p class="note">Each curve is one class against all others, as the decision threshold moves from strict (bottom left) to lenient (top right). The dashed line is chance.{{if gt (len .ROC) 1}} The right panel enlarges the top-left corner, where good models differ.{{end}}</p>
</section>
{{end}}

{{if .Reliability}}<section id="calibration">
<h2>Calibration</h2>
<div class="row"><figure>{{.Reliability}}</figure>
<div class="aside"><p>Does the model's confidence mean what it says? Images are grouped by the model's confidence in its answer; each bar shows how many of them it got right. On a well-calibrated model the bars reach the dashed diagonal; hatching marks the gap. The number in each bar counts its images.</p>
<p>Expected calibration error: <strong>{{.ECE}}</strong>{{with .ECECI}} ({{.}}){{end}}, the average gap weighted by the number of images ({{len .P.Test.Reliability}} equal-width bins, as Guo et al. 2017).</p>
{{with .P.Run.Temperature}}<p>The probabilities are temperature-scaled: the model's scores are divided by T = {{printf "%.3g" .}} before they become probabilities, with T fitted on the validation images{{if gt . 1.0}} (above 1: the raw model was over-sure){{else}} (below 1: the raw model was under-confident){{end}}. Scaling changes how sure the model says it is, rarely its answer.</p>{{end}}</div></div>
</section>
{{end}}

{{if .Mistakes}}<section id="mistakes">
<h2>Most confident mistakes</h2>
<p class="note">Test images the model got wrong while most sure of itself. Look for mislabelled images, poor focus or staining, and cells that are truly ambiguous.</p>
<div class="gallery">
{{range .Mistakes}}<figure class="tile">{{if .URI}}<img src="{{.URI}}" alt="{{.Path}}"{{if .Small}} class="px"{{end}}/>{{else}}<div class="noimg">no image</div>{{end}}
<figcaption><span class="truth">True: {{.True}}</span><span class="pred">Model: {{.Predicted}}, {{.Confidence}}</span><span class="path" title="{{.Path}}">{{.Path}}</span></figcaption></figure>
{{end}}</div>
</section>
{{end}}

{{if .Explanations}}<section id="explanations">
<h2>Explanations</h2>
<div class="gallery wide">
{{range .Explanations}}<figure class="tile">{{if .URI}}<img src="{{.URI}}" alt="{{.Caption}}"{{if .Small}} class="px"{{end}}/>{{else}}<div class="noimg">no image</div>{{end}}
<figcaption>{{.Caption}}</figcaption></figure>
{{end}}</div>
</section>
{{end}}

{{range $i, $s := .P.Sections}}<section id="extra-{{$i}}" class="extra">
<h2>{{$s.Title}}</h2>
{{$s.Body}}
</section>
{{end}}

{{if or .Curves .RunFacts}}<section id="training">
<h2>Training</h2>
{{if .Curves}}<div class="row curves">{{range .Curves}}<figure>{{.}}</figure>{{end}}</div>{{end}}
{{if .RunFacts}}<table class="facts">
{{range .RunFacts}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>{{end}}
</section>
{{end}}

{{if .Config}}<section id="config">
<h2>Configuration</h2>
<pre>{{.Config}}</pre>
</section>
{{end}}
<footer>Made by deepscope{{with .P.Run.Version}} {{.}}{{end}}. For research use; not a diagnostic device.</footer>
</body>
</html>
`))

const css = `
:root { --ink: #1d232a; --muted: #5b6570; --rule: #d9dee3; --accent: #0072B2; --soft: #f4f6f8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1120px; padding: 28px 36px 48px; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-variant-numeric: tabular-nums; }
h1 { font-size: 26px; line-height: 1.2; margin: 0 0 4px; font-weight: 650; }
h2 { font-size: 19px; margin: 0 0 12px; font-weight: 620; }
header { border-bottom: 3px solid var(--ink); padding-bottom: 10px; margin-bottom: 22px; }
.sub { margin: 0; color: var(--muted); }
section { margin: 0 0 34px; }
section + section { border-top: 1px solid var(--rule); padding-top: 22px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin-bottom: 16px; }
.card { background: var(--soft); border-radius: 8px; padding: 12px 14px; border-top: 4px solid var(--accent); }
.card:first-child { background: #e8f1f8; }
.card .label { font-size: 13px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
.card .value { font-size: 32px; font-weight: 700; line-height: 1.15; margin: 2px 0; }
.card .range { font-size: 14px; }
.card .hint { font-size: 12px; color: var(--muted); margin-top: 4px; line-height: 1.3; }
.findings { margin: 0 0 10px; padding-left: 20px; font-size: 16px; }
.findings li { margin: 3px 0; }
.note { color: var(--muted); font-size: 13px; margin: 6px 0; max-width: 80ch; }
table { border-collapse: collapse; }
table.classes { width: 100%; font-size: 14px; }
table.classes th, table.classes td { padding: 6px 10px; text-align: right; border-bottom: 1px solid var(--rule); vertical-align: middle; }
table.classes th { font-size: 13px; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--ink); vertical-align: bottom; }
table.classes .name { text-align: left; font-weight: 600; }
table.classes tbody tr:nth-child(even) { background: #fafbfc; }
table.classes .bar { padding: 0 4px; width: 150px; }
table.classes .bar svg { max-width: none; }
.unit { font-weight: 400; font-size: 11px; }
.ci { display: block; font-size: 11.5px; color: var(--muted); white-space: nowrap; }
figure { margin: 0; }
figcaption { font-size: 13px; color: var(--muted); max-width: 80ch; margin-top: 6px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.aside { flex: 1 1 260px; max-width: 60ch; }
h3 { font-size: 15px; margin: 4px 0 8px; font-weight: 620; }
.errors { margin: 0; padding-left: 22px; }
.errors li { margin: 3px 0; }
.legend { list-style: none; padding: 0; margin: 0 0 10px; font-size: 13.5px; display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 2px 18px; }
.legend .lname { font-weight: 600; }
.legend .lauc { color: var(--muted); }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 14px; }
.gallery.wide { grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); }
.tile img, .noimg { width: 100%; aspect-ratio: 1; object-fit: contain; background: var(--soft); border-radius: 4px; display: block; }
.noimg { display: flex; align-items: center; justify-content: center; color: var(--muted); font-size: 12px; }
img.px { image-rendering: pixelated; }
.tile figcaption { font-size: 12.5px; line-height: 1.35; margin-top: 4px; color: var(--ink); }
.tile figcaption span { display: block; }
.tile .pred { color: #b34700; font-weight: 600; }
.tile .path { color: var(--muted); font-size: 11px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table.facts th { text-align: left; font-weight: 600; color: var(--muted); padding: 3px 18px 3px 0; font-size: 14px; }
table.facts td { padding: 3px 0; font-size: 14px; }
.curves { margin-bottom: 14px; }
pre { background: var(--soft); padding: 12px 14px; border-radius: 6px; font-size: 12px; line-height: 1.4; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.extra table { border-collapse: collapse; font-size: 14px; }
.extra th, .extra td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--rule); padding-top: 10px; }
svg { overflow: visible; max-width: 100%; height: auto; }
svg text { font-family: inherit; }
svg .grid { stroke: #eceff2; stroke-width: 1; }
svg .frame { fill: none; stroke: #9aa3ab; stroke-width: 1; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .axis-title { font-size: 12px; fill: #333; }
svg .legend, svg .label { font-size: 12px; fill: var(--ink); }
svg .note { font-size: 11px; fill: var(--muted); }
svg .marker { stroke: #8a949e; stroke-dasharray: 4 3; stroke-width: 1.2; }
svg .chance { stroke: #9aa3ab; stroke-dasharray: 5 4; stroke-width: 1.2; }
svg .cell { stroke: #fff; stroke-width: 1.5; }
svg .diag { fill: none; stroke: #1d232a; stroke-width: 1.2; stroke-opacity: 0.35; }
svg .count { font-size: 13px; font-weight: 650; }
svg .count.small { font-size: 10.5px; }
svg .share { font-size: 10px; }
svg .zero { font-size: 11px; fill: #c5ccd3; }
svg .bar { fill: #0072B2; fill-opacity: 0.85; }
svg .gap { stroke: #D55E00; stroke-width: 1; }
svg .binlabel { font-size: 10px; fill: #444; }
svg .binlabel.in { fill: #fff; }
svg .track { stroke: #c5ccd3; stroke-width: 1; }
svg .whisker { stroke: #0072B2; stroke-width: 3; stroke-linecap: round; stroke-opacity: 0.45; }
svg .dot { fill: #0072B2; stroke: #fff; stroke-width: 1; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  .cards { grid-template-columns: repeat(auto-fit, minmax(110px, 1fr)); gap: 8px; }
  .card { padding: 8px 10px; }
  .card .value { font-size: 22px; }
  .card .label { font-size: 10px; letter-spacing: 0; }
  .card .range { font-size: 10.5px; white-space: nowrap; }
  table.classes { font-size: 12px; }
  table.classes .bar, table.classes .bar svg { width: 96px; }
  .gallery { grid-template-columns: repeat(6, 1fr); gap: 8px; }
  .gallery.wide { grid-template-columns: repeat(3, 1fr); }
  .tile figcaption { font-size: 9.5pt; }
  table.classes th, table.classes td { padding: 4px 6px; }
  section { break-inside: auto; }
  figure, tr, .card, .tile, table.facts { break-inside: avoid; }
  h2 { break-after: avoid; }
  #mistakes, #training, #config { break-before: page; border-top: 0; }
  .card, table.classes tbody tr:nth-child(even), pre { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`
