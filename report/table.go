package report

import (
	"html"
	"html/template"
	"strings"
)

// Table returns a plain HTML table, every cell escaped, for the Body of a
// Section (an audit by subgroup, a privacy ledger).
func Table(header []string, rows [][]string) template.HTML {
	var b strings.Builder
	b.WriteString("<table><thead><tr>")
	for _, h := range header {
		b.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	b.WriteString("</tr></thead><tbody>")
	for _, row := range rows {
		b.WriteString("<tr>")
		for _, c := range row {
			b.WriteString("<td>" + html.EscapeString(c) + "</td>")
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return template.HTML(b.String())
}
