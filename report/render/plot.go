package render

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot sizes, in points. Every single plot keeps a legend strip of the
// same width on its right, so the x axes of plots stacked in the page
// line up.
const (
	plotW   = 10 * vg.Inch
	plotH   = 3.2 * vg.Inch
	legendW = 1.6 * vg.Inch
	// halfW and halfLegendW size the plots a wide page sets two to a row.
	halfW       = 5.6 * vg.Inch
	halfLegendW = 0.75 * vg.Inch
)

// Colours, named for what they usually draw.
var (
	colBlue   = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colOrange = color.RGBA{0xff, 0x7f, 0x0e, 0xff}
	colGreen  = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	colRed    = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colPurple = color.RGBA{0x94, 0x67, 0xbd, 0xff}
	colBrown  = color.RGBA{0x8c, 0x56, 0x4b, 0xff}
	colPink   = color.RGBA{0xe3, 0x77, 0xc2, 0xff}
	colGrey   = color.RGBA{0x7f, 0x7f, 0x7f, 0xff}
	colOlive  = color.RGBA{0xbc, 0xbd, 0x22, 0xff}
	colCyan   = color.RGBA{0x17, 0xbe, 0xcf, 0xff}
	colFaint  = color.RGBA{0xbb, 0xbb, 0xbb, 0xff}
	colGrid   = color.RGBA{0xe6, 0xe6, 0xe6, 0xff}
	palette   = []color.Color{colBlue, colOrange, colGreen, colRed, colPurple, colBrown, colPink, colGrey, colOlive, colCyan}
)

// sans is the plots' font: Liberation Sans, which the page asks browsers
// to replace with the metric-compatible Arial when it is not installed.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: sans(size), Handler: plot.DefaultTextHandler}
}

// newPlot is a plot with the page's fonts, a light grid and axis labels.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(11)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(10)
		a.Tick.Label.Font = sans(9)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks{}, plainTicks{}
	p.Legend.TextStyle.Font = sans(9)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.Padding = vg.Points(3)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	p.Add(g)
	return p
}

func solid(c color.Color) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(1.2)}
}

func dashed(c color.Color) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
}

// series is one named line of a chart; a NaN Y is a gap in it.
type series struct {
	name  string
	xys   plotter.XYs
	style draw.LineStyle
}

// finite reports whether a point can be drawn, on a log y axis when log.
func finite(xy plotter.XY, log bool) bool {
	ok := !math.IsNaN(xy.X) && !math.IsInf(xy.X, 0) && !math.IsNaN(xy.Y) && !math.IsInf(xy.Y, 0)
	return ok && (!log || xy.Y > 0)
}

// segments splits xys at the points that cannot be drawn.
func segments(xys plotter.XYs, log bool) []plotter.XYs {
	var out []plotter.XYs
	start := -1
	for i, xy := range xys {
		switch ok := finite(xy, log); {
		case ok && start < 0:
			start = i
		case !ok && start >= 0:
			out = append(out, xys[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, xys[start:])
	}
	return out
}

// addSeries draws s on p, broken at its gaps, with a legend entry.
// A series of fewer than three points also gets a dot per point, since a
// line through one point draws nothing. It reports whether anything
// could be drawn.
func addSeries(p *plot.Plot, s series, log bool) bool {
	segs := segments(s.xys, log)
	n := 0
	var thumb plot.Thumbnailer
	for _, seg := range segs {
		l := bareLine{&plotter.Line{XYs: seg, LineStyle: s.style}}
		p.Add(l)
		thumb, n = l, n+len(seg)
	}
	if n == 0 {
		return false
	}
	if n < 3 {
		dots := &plotter.Scatter{XYs: slices.Concat(segs...),
			GlyphStyle: draw.GlyphStyle{Color: s.style.Color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}}
		p.Add(dots)
	}
	if s.name != "" {
		p.Legend.Add(s.name, thumb)
	}
	return true
}

// bareLine is a plotter.Line without glyph boxes. A line's boxes, half
// its width around each point, pad the plot by under a point, yet gonum
// builds them for every point several times per draw: most of the
// allocations of a long chart.
type bareLine struct{ l *plotter.Line }

// Plot implements plot.Plotter.
func (b bareLine) Plot(c draw.Canvas, p *plot.Plot) { b.l.Plot(c, p) }

// DataRange implements plot.DataRanger.
func (b bareLine) DataRange() (xmin, xmax, ymin, ymax float64) { return b.l.DataRange() }

// Thumbnail implements plot.Thumbnailer, for the legend.
func (b bareLine) Thumbnail(c *draw.Canvas) { b.l.Thumbnail(c) }

// yRange is the range of the drawable Y values of some series.
func yRange(ss []series, log bool) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, xy := range s.xys {
			if finite(xy, log) {
				lo, hi = min(lo, xy.Y), max(hi, xy.Y)
			}
		}
	}
	return lo, hi, lo <= hi
}

// setLinearY sets p's y axis from zero (or below, for negative data) to a
// little above the data, so marks and labels at the top stay readable.
func setLinearY(p *plot.Plot, lo, hi float64, ok bool) {
	if !ok {
		lo, hi = 0, 1
	}
	p.Y.Min = min(0, lo)
	p.Y.Max = hi + 0.12*(hi-p.Y.Min)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
}

// setLogY gives p a log y axis spanning the data with some headroom.
func setLogY(p *plot.Plot, lo, hi float64, ok bool) {
	if !ok {
		lo, hi = 1, 10
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = lo/1.5, hi*2
}

// setX sets p's x axis to span lo to hi, or 0 to 1 when that is no
// span.
func setX(p *plot.Plot, lo, hi float64) {
	if !(lo < hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	p.X.Min, p.X.Max = lo, hi
}

// vmarks draws vertical lines across the data area at xs, each with its
// label at the top: stage boundaries, the knee. A label is drawn only
// where it fits: within the data area and clear of the labels already
// drawn, the marks with the most room before the next one placed first.
// Of a short ramp and the long hold after it, the hold keeps its name.
type vmarks struct {
	xs     []float64
	labels []string
	line   draw.LineStyle
	text   text.Style
	// flip lets a label that does not fit right of its line go left of it.
	flip bool
}

// labelPad is the space between a mark's line and its label, and the
// least gap between two labels.
const labelPad = 3

// Plot implements plot.Plotter.
func (m vmarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	var marks []mark
	for i, x := range m.xs {
		if !(x >= p.X.Min && x <= p.X.Max) {
			continue
		}
		px := trX(x)
		c.StrokeLine2(m.line, px, c.Min.Y, px, c.Max.Y)
		if i < len(m.labels) && m.labels[i] != "" {
			marks = append(marks, mark{x: px, label: m.labels[i]})
		}
	}
	sty := m.text
	sty.YAlign = text.YTop
	for _, mk := range m.place(marks, c.Min.X, c.Max.X) {
		c.FillText(sty, vg.Point{X: mk.at, Y: c.Max.Y - vg.Points(2)}, mk.label)
	}
}

// mark is a labelled line of a vmarks, at x on the canvas; at is where
// its label starts once placed.
type mark struct {
	x, at vg.Length
	label string
}

// place returns the marks whose labels fit between left and right
// without overlapping, in order, each with its label's place.
func (m vmarks) place(marks []mark, left, right vg.Length) []mark {
	room := func(k int) vg.Length {
		if k+1 < len(marks) {
			return marks[k+1].x - marks[k].x
		}
		return right - marks[k].x
	}
	order := make([]int, len(marks))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(room(b), room(a)) })
	var placed []mark
	for _, k := range order {
		mk, w := marks[k], m.text.Width(marks[k].label)
		mk.at = mk.x + vg.Points(labelPad)
		if mk.at+w > right && m.flip {
			mk.at = mk.x - vg.Points(labelPad) - w
		}
		if mk.at < left || mk.at+w > right || overlaps(placed, m.text, mk.at, mk.at+w) {
			continue
		}
		placed = append(placed, mk)
	}
	slices.SortFunc(placed, func(a, b mark) int { return cmp.Compare(a.x, b.x) })
	return placed
}

// overlaps reports whether a label from lo to hi comes within labelPad
// of any of the placed ones, drawn in sty.
func overlaps(placed []mark, sty text.Style, lo, hi vg.Length) bool {
	for _, p := range placed {
		if lo < p.at+sty.Width(p.label)+vg.Points(labelPad) && p.at < hi+vg.Points(labelPad) {
			return true
		}
	}
	return false
}

// figure is one drawn chart for the page.
type figure struct {
	Title   string
	SVG     template.HTML
	Caption string
	// Half is set on a narrower chart that a wide page sets beside another.
	Half bool
	// Err says why the chart could not be drawn; SVG is empty then.
	Err string
}

// plainTicks are gonum's default ticks, labelled without trailing zeros
// ("250", not "250.00").
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if strings.Contains(t.Label, ".") && !strings.ContainsAny(t.Label, "eE") {
			ticks[i].Label = strings.TrimRight(strings.TrimRight(t.Label, "0"), ".")
		}
	}
	return ticks
}

// drawOne draws p with its legend in a strip on the right. The page
// titles the figure, so the plot goes without.
func drawOne(title string, p *plot.Plot, caption string) figure {
	return drawBeside(title, p, caption, plotW, legendW)
}

// drawHalf draws p as drawOne does, narrower, for half a row.
func drawHalf(title string, p *plot.Plot, caption string) figure {
	f := drawBeside(title, p, caption, halfW, halfLegendW)
	f.Half = true
	return f
}

// drawBeside draws p w wide with its legend in a strip legW wide on the
// right.
func drawBeside(title string, p *plot.Plot, caption string, w, legW vg.Length) figure {
	return drawFigure(title, caption, w, plotH, func(dc draw.Canvas) {
		leg := p.Legend
		p.Legend = plot.NewLegend()
		p.Title.Text = ""
		p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
		strip := draw.Crop(dc, w-legW+vg.Points(8), 0, 0, -vg.Points(8))
		leg.Draw(strip)
	})
}

// drawTiles draws plots in rows of tiles on one canvas of w×h, each with
// its own legend inside.
func drawTiles(title string, rows [][]*plot.Plot, w, h vg.Length, caption string) figure {
	return drawFigure(title, caption, w, h, func(dc draw.Canvas) {
		t := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadX: vg.Points(18), PadY: vg.Points(10),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		cs := plot.Align(rows, t, dc)
		for i, row := range rows {
			for j, p := range row {
				p.Draw(cs[i][j])
			}
		}
	})
}

// drawFigure runs paint on an SVG canvas of w×h and returns the SVG for
// inline use. Gonum panics on some data (a log axis reaching zero, say)
// that the callers try to keep from it; should one slip through, the
// page says the chart could not be drawn rather than failing.
func drawFigure(title, caption string, w, h vg.Length, paint func(draw.Canvas)) (f figure) {
	f = figure{Title: title, Caption: caption}
	defer func() {
		if v := recover(); v != nil {
			f.SVG, f.Err = "", fmt.Sprintf("the chart could not be drawn: %v", v)
		}
	}()
	c := vgsvg.New(w, h)
	paint(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		f.Err = fmt.Sprintf("the chart could not be drawn: %v", err)
		return f
	}
	f.SVG = inlineSVG(b.String(), w, h, title)
	return f
}

// sansFamily is how vgsvg names the plots' font, and sansStack the font
// stack the page asks for instead.
const (
	sansFamily = "font-family:Liberation Sans;"
	sansStack  = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"
)

// inlineSVG makes vgsvg's document an element for an HTML page: no XML
// prolog or comment, no namespace URLs (HTML needs none) and no fixed
// size, so CSS scales it to its container's width.
func inlineSVG(doc string, w, h vg.Length, title string) template.HTML {
	i := strings.Index(doc, "<svg")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(doc[i:], '>')
	if j < 0 {
		return ""
	}
	body := strings.ReplaceAll(doc[i+j+1:], sansFamily, sansStack)
	open := fmt.Sprintf(`<svg viewBox="0 0 %.5g %.5g" class="plot" role="img" aria-label="%s">`,
		w.Points(), h.Points(), html.EscapeString(title))
	return template.HTML(open + body)
}
