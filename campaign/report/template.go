package report

// reportHTML is the template of the HTML report: one self-contained page.
// Its Content-Security-Policy forbids every fetch (scripts, images, fonts,
// styles from elsewhere), so even a receipt text that somehow slipped
// markup past html/template could not make the page reach the network.
// The page needs no JavaScript: receipts fold with <details>.
const reportHTML = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pecbatch">
<title>{{t "page.title" .Campaign}}</title>
<style>
:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --attn: #bc4c00; --wait: #59636e;
  --sent: #0969da; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --zebra: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta, .empty, figcaption, footer { color: var(--muted); }
.empty { font-style: italic; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
thead th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  color: #fff; background: var(--wait); white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.warn { background: var(--warn); }
.badge.bad { background: var(--bad); } .badge.attn { background: var(--attn); }
.it { color: var(--muted); font-style: italic; font-weight: normal; }
table.totals { max-width: 1000px; }
table.totals tr.zero td, table.totals tr.zero .it { color: #8c959f; }
table.totals tr.zero .badge { opacity: .4; }
table.totals tfoot th, table.totals tfoot td { font-weight: 700; border-bottom: 0; }
svg.stack { display: block; width: 100%; max-width: 1000px; height: 18px; margin: 0 0 12px; }
.stack rect { fill: var(--wait); } .stack rect.ok { fill: var(--ok); } .stack rect.warn { fill: var(--warn); }
.stack rect.bad { fill: var(--bad); } .stack rect.attn { fill: var(--attn); }
.charts { display: flex; flex-wrap: wrap; gap: 20px; }
figure { flex: 1 1 560px; margin: 0; padding: 8px 8px 4px; border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-size: 13px; margin: 4px 4px 0; }
svg.chart { display: block; width: 100%; height: auto; font-size: 11px; }
.chart .grid line { stroke: #eaeef2; }
.chart .axis line { stroke: #8c959f; }
.chart text { fill: var(--muted); }
.chart .axis-label { fill: var(--fg); font-size: 12px; }
.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
.chart .sent { stroke: var(--sent); } .chart .delivered { stroke: var(--ok); } .chart .failed { stroke: var(--bad); }
.chart .expired { stroke: var(--attn); stroke-dasharray: 6 3; } .chart .rejected { stroke: var(--wait); stroke-dasharray: 2 3; }
.chart .legend text { fill: var(--fg); font-size: 12px; }
.chart .bar { fill: var(--ok); }
.scroll { overflow-x: auto; }
table.undelivered { font-size: 13px; margin-bottom: 8px; }
table.undelivered td.next { font-weight: 600; }
table.undelivered tbody tr:nth-child(even) { background: var(--zebra); }
table.rows { font-size: 13px; }
table.rows td { overflow-wrap: break-word; }
/* Keys are often addresses: they wrap at spaces only, never inside a word. */
table.rows td.key, td.addr { overflow-wrap: normal; word-break: normal; hyphens: none; min-width: 6em; }
td.addr { white-space: nowrap; }
table.rows td.subject { min-width: 12em; }
table.rows td time { display: inline-block; min-width: 6em; }
table.rows tbody { border-top: 2px solid var(--line); }
table.rows tbody:nth-of-type(even) { background: var(--zebra); }
.note { font-size: 12px; font-weight: 600; color: var(--warn); }
.mid { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); word-break: break-all; }
.t-ok { color: var(--ok); } .t-bad { color: var(--bad); }
.err { color: var(--bad); }
summary { cursor: pointer; color: var(--sent); white-space: nowrap; }
ol.receipts { margin: 4px 0 0; padding-left: 18px; }
ol.receipts li { margin-bottom: 6px; }
.kind { font-weight: 600; color: var(--wait); } .kind.ok { color: var(--ok); } .kind.bad { color: var(--bad); }
.kind.attn { color: var(--attn); }
pre { white-space: pre-wrap; font-size: 12px; background: #f6f8fa; padding: 6px; margin: 4px 0; max-width: 48em; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 12px; border-radius: 6px; }
footer { font-size: 12px; margin-top: 24px; margin-bottom: 24px; }
@media print { details > * { display: block; } summary { color: var(--fg); } }
</style>
</head>
<body>
<header>
<h1>{{t "page.title" .Campaign}}</h1>
<p class="meta">{{t "page.generated"}} {{template "time" .Generated}} · {{t "page.timesIn" .Zone}} · {{.RowsText}}, {{.RecipientText}}</p>
</header>
<main>
<section id="undelivered" aria-labelledby="undelivered-title">
<h2 id="undelivered-title">{{t "undelivered.title"}}</h2>
{{if .Undelivered}}<p>{{t "undelivered.intro"}}</p>
<div class="scroll"><table class="undelivered">
<thead><tr><th scope="col" class="num">{{t "col.row"}}</th><th scope="col">{{t "col.key"}}</th><th scope="col">{{t "col.recipient"}}</th><th scope="col">{{t "col.state"}}</th><th scope="col">{{t "col.reason"}}</th><th scope="col">{{t "col.next"}}</th><th scope="col">{{t "col.error"}}</th><th scope="col">{{t "col.when"}}</th></tr></thead>
<tbody>
{{range .Undelivered}}<tr data-state="{{.State}}"><td class="num">{{.Row}}</td><td class="key">{{.Key}}</td><td class="addr">{{.Recipient}}</td><td><span class="badge {{.Class}}">{{.StateName}}</span></td><td>{{.Reason}}</td><td class="next">{{code .Next}}</td><td class="err">{{.Error}}</td><td>{{template "time" .When}}</td></tr>
{{end}}</tbody>
</table></div>
{{else}}<p class="empty">{{t "undelivered.none"}}</p>
{{end}}{{with .WaitingText}}<p class="meta">{{t "undelivered.waiting" .}}</p>
{{end}}</section>
<section id="totals" aria-labelledby="totals-title">
<h2 id="totals-title">{{t "totals.title"}}</h2>
{{with .Stack}}<svg class="stack" viewBox="0 0 1000 18" preserveAspectRatio="none" role="img" aria-label="{{t "totals.stack"}}">
{{range .}}<rect class="{{.Class}}" x="{{.X}}" y="0" width="{{.W}}" height="18"><title>{{.Title}}</title></rect>
{{end}}</svg>{{end}}
<table class="totals">
<thead><tr><th scope="col">{{t "col.state"}}</th><th scope="col" class="num">{{t "col.rows"}}</th><th scope="col" class="num">{{t "col.share"}}</th><th scope="col">{{t "col.meaning"}}</th></tr></thead>
<tbody>
{{range .Totals}}<tr data-state="{{.State}}"{{if not .Count}} class="zero"{{end}}><th scope="row"><span class="badge {{.Class}}">{{.Name}}</span>{{with .Italian}} <span class="it" lang="it">{{.}}</span>{{end}}</th><td class="num" data-count="{{.Count}}">{{.Count}}</td><td class="num">{{.Share}}</td><td>{{.Meaning}}</td></tr>
{{end}}</tbody>
<tfoot><tr><th scope="row">{{t "totals.all"}}</th><td class="num" data-total="rows">{{.Rows}}</td><td></td><td>{{t "totals.inAll" .RecipientText}}</td></tr></tfoot>
</table>
</section>
<section id="charts" aria-labelledby="charts-title">
<h2 id="charts-title">{{t "charts.title"}}</h2>
<div class="charts">
<figure>
{{with .Timeline}}{{template "chart" .}}{{else}}<p class="empty">{{t "charts.nothingSent"}}</p>{{end}}
<figcaption>{{t "charts.timeline.caption"}}</figcaption>
</figure>
<figure>
{{with .Latency}}{{template "chart" .}}{{else}}<p class="empty">{{t "charts.noDelivery"}}</p>{{end}}
<figcaption>{{t "charts.latency.caption"}}{{with .LatencyText}}: {{.}}{{end}}.</figcaption>
</figure>
</div>
</section>
<section id="rows" aria-labelledby="rows-title">
<h2 id="rows-title">{{t "rows.title"}}</h2>
{{if .Capped}}<p class="note">{{t "rows.capped" .ShownText}} <code>pecbatch report CAMPAIGN.yaml --format csv</code>.</p>
{{end}}{{if .Groups}}<div class="scroll"><table class="rows">
<thead><tr><th scope="col" class="num">{{t "col.row"}}</th><th scope="col">{{t "col.key"}}</th><th scope="col">{{t "col.subject"}}</th><th scope="col">{{t "col.recipient"}}</th><th scope="col">{{t "col.state"}}</th><th scope="col">{{t "col.sent"}}</th><th scope="col">{{t "col.accepted"}}</th><th scope="col">{{t "col.outcome"}}</th><th scope="col">{{t "col.error"}}</th><th scope="col">{{t "col.receipts"}}</th></tr></thead>
{{range .Groups}}{{$g := .}}<tbody id="row-{{.Row}}">
{{range $i, $l := .Lines}}<tr>{{if eq $i 0}}<td class="num" rowspan="{{len $g.Lines}}">{{$g.Row}}</td><td class="key" rowspan="{{len $g.Lines}}">{{$g.Key}}</td><td class="subject" rowspan="{{len $g.Lines}}">{{$g.Subject}}{{with $g.MessageID}}<div class="mid">{{.}}</div>{{end}}{{with $g.Note}}<div class="note"{{with $g.NoteTitle}} title="{{.}}"{{end}}>{{.}}</div>{{end}}</td>{{end}}<td class="addr">{{$l.Recipient}}</td><td><span class="badge {{$l.Class}}" data-state="{{$l.State}}">{{$l.StateName}}</span></td><td>{{template "time" $l.Submitted}}</td><td>{{template "time" $l.Accepted}}</td><td{{with $l.OutcomeClass}} class="{{.}}"{{end}}>{{template "time" $l.Outcome}}</td><td class="err">{{$l.Error}}</td>{{if eq $i 0}}<td rowspan="{{len $g.Lines}}">{{template "receipts" $g}}</td>{{end}}</tr>
{{end}}</tbody>
{{end}}</table></div>
{{else}}<p class="empty">{{t "rows.empty"}}</p>
{{end}}</section>
</main>
<footer>{{t "footer"}}</footer>
</body>
</html>
{{define "time"}}{{if .ISO}}<time datetime="{{.ISO}}">{{.Text}}</time>{{end}}{{end}}
{{- define "receipts"}}{{if .Receipts}}<details><summary>{{.Summary}}</summary><ol class="receipts">
{{range .Receipts}}<li><span class="kind {{.Class}}">{{.Kind}}</span> {{if .Date.ISO}}{{template "time" .Date}}{{else}}{{.Date.Text}}{{end}}{{with .Recipient}} · {{.}}{{end}}<br>{{.Subject}}{{with .Body}}<details><summary>{{t "receipts.text"}}</summary><pre>{{.}}</pre></details>{{end}}</li>
{{end}}</ol></details>{{else}}<span class="empty">{{t "receipts.none"}}</span>{{end}}{{end}}
{{- define "chart"}}<svg class="chart" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-labelledby="{{.ID}}-title {{.ID}}-desc">
<title id="{{.ID}}-title">{{.Title}}</title>
<desc id="{{.ID}}-desc">{{.Desc}}</desc>
<g class="grid">{{range .YTicks}}<line x1="{{$.Left}}" x2="{{$.Right}}" y1="{{.Pos}}" y2="{{.Pos}}"/>{{end}}</g>
{{range .Bars}}<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Lines}}<polyline class="series {{.Class}}" points="{{.Points}}"/>
{{end}}<g class="axis">
<line x1="{{.Left}}" x2="{{.Right}}" y1="{{.Bottom}}" y2="{{.Bottom}}"/>
<line x1="{{.Left}}" x2="{{.Left}}" y1="{{.Top}}" y2="{{.Bottom}}"/>
{{range .XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.Bottom}}" y2="{{$.TickEnd}}"/><text x="{{.Pos}}" y="{{$.XTickLabelY}}" text-anchor="{{.Anchor}}">{{.Label}}</text>
{{end}}{{range .YTicks}}<text x="{{$.YTickLabelX}}" y="{{.Pos}}" dy="0.32em" text-anchor="end">{{.Label}}</text>
{{end}}<text class="axis-label" x="{{.XLabelX}}" y="{{.XLabelY}}" text-anchor="middle">{{.XLabel}}</text>
<text class="axis-label" transform="rotate(-90 {{.YLabelX}} {{.YLabelY}})" x="{{.YLabelX}}" y="{{.YLabelY}}" text-anchor="middle">{{.YLabel}}</text>
</g>
{{with .Lines}}<g class="legend">{{range .}}<line class="series {{.Class}}" x1="{{.LegendX}}" x2="{{.LegendLine}}" y1="{{.LegendY}}" y2="{{.LegendY}}"/><text x="{{.LegendText}}" y="{{.LegendY}}" dy="0.32em">{{.Name}} ({{.Total}})</text>
{{end}}</g>{{end}}</svg>{{end}}`
