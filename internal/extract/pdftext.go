package extract

import "math"

// pdfMatrix is a PDF transformation matrix [a b c d e f].
type pdfMatrix [6]float64

func identity() pdfMatrix { return pdfMatrix{1, 0, 0, 1, 0, 0} }

// mul returns m × n (m applied first).
func (m pdfMatrix) mul(n pdfMatrix) pdfMatrix {
	return pdfMatrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m pdfMatrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

// pdfGState is the part of the graphics state that q and Q save.
type pdfGState struct {
	ctm                      pdfMatrix
	font                     *pdfFont
	fs, tc, tw, th, tl, rise float64
}

// pdfInterp runs content streams and lays their strings out as text:
// a new line when the baseline moves by more than half the font size, a
// blank when the next string starts more than 0.15 em away from where the
// previous one ended (or back before it). Strings are taken in content
// order; columns are not reconstructed.
type pdfInterp struct {
	d        *pdfDoc
	gs       pdfGState
	stack    []pdfGState
	tm, tlm  pdfMatrix
	have     bool
	lastX    float64
	lastY    float64
	lastH    float64
	lastDir  [2]float64
	forms    map[int]bool // form XObjects on the current Do chain
	formRuns int
	plain    *pdfFont // for strings shown without a font
}

func newPDFInterp(d *pdfDoc) *pdfInterp {
	return &pdfInterp{d: d, gs: pdfGState{ctm: identity(), th: 1, fs: 1}, tm: identity(), tlm: identity(),
		forms: map[int]bool{}, plain: &pdfFont{enc: d.simpleEncoding(pdfDict{}), dw: 500}}
}

// run interprets one content stream with its resources. depth counts the
// form XObjects it is nested in.
func (ip *pdfInterp) run(content []byte, res pdfDict, depth int) error {
	d := ip.d
	l := &pdfLexer{b: content}
	var ops []any
	for {
		if d.x.out.full() {
			return nil
		}
		if err := d.x.alive(); err != nil {
			return err
		}
		o, err := l.object(0)
		if err != nil {
			return nil // end of stream
		}
		kw, isOp := o.(pdfKeyword)
		if !isOp {
			if len(ops) >= 1024 {
				ops = ops[:0]
			}
			ops = append(ops, o)
			continue
		}
		arg := func(i int) any { // i-th operand from the end
			if i < len(ops) {
				return ops[len(ops)-1-i]
			}
			return nil
		}
		switch kw {
		case "BI":
			for k := 0; k < 256; k++ {
				v, err := l.object(0)
				if err != nil || v == pdfKeyword("ID") {
					break
				}
			}
			l.skipInlineImage()
		case "q":
			if len(ip.stack) < 256 {
				ip.stack = append(ip.stack, ip.gs)
			}
		case "Q":
			if n := len(ip.stack); n > 0 {
				ip.gs, ip.stack = ip.stack[n-1], ip.stack[:n-1]
			}
		case "cm":
			if len(ops) >= 6 {
				ip.gs.ctm = matrixOf(ops[len(ops)-6:]).mul(ip.gs.ctm)
			}
		case "BT":
			ip.tm, ip.tlm = identity(), identity()
		case "Tf":
			name, _ := arg(1).(pdfName)
			ip.gs.font = d.font(res, name)
			ip.gs.fs = num(arg(0))
		case "Tc":
			ip.gs.tc = num(arg(0))
		case "Tw":
			ip.gs.tw = num(arg(0))
		case "Tz":
			ip.gs.th = num(arg(0)) / 100
		case "TL":
			ip.gs.tl = num(arg(0))
		case "Ts":
			ip.gs.rise = num(arg(0))
		case "Td", "TD":
			tx, ty := num(arg(1)), num(arg(0))
			if kw == "TD" {
				ip.gs.tl = -ty
			}
			ip.tlm = pdfMatrix{1, 0, 0, 1, tx, ty}.mul(ip.tlm)
			ip.tm = ip.tlm
		case "Tm":
			if len(ops) >= 6 {
				ip.tlm = matrixOf(ops[len(ops)-6:])
				ip.tm = ip.tlm
			}
		case "T*":
			ip.nextLine()
		case "Tj":
			ip.show(arg(0))
		case "'":
			ip.nextLine()
			ip.show(arg(0))
		case "\"":
			ip.gs.tw, ip.gs.tc = num(arg(2)), num(arg(1))
			ip.nextLine()
			ip.show(arg(0))
		case "TJ":
			a, _ := arg(0).(pdfArray)
			for _, e := range a {
				if n, ok := e.(float64); ok {
					ip.advance(-n / 1000 * ip.gs.fs * ip.gs.th)
					continue
				}
				ip.show(e)
			}
		case "Do":
			name, _ := arg(0).(pdfName)
			if err := ip.form(res, name, depth); err != nil {
				return err
			}
		}
		ops = ops[:0]
	}
}

// form draws a form XObject (ISO 32000-1 §8.10): its content with its
// matrix and resources, once per Do chain (no cycles), at most
// pdfMaxFormDepth deep and 10000 times per page.
func (ip *pdfInterp) form(res pdfDict, name pdfName, depth int) error {
	d := ip.d
	xobjs := d.dict(res["XObject"])
	if xobjs == nil || depth >= pdfMaxFormDepth || ip.formRuns >= 10000 {
		return nil
	}
	ref, isRef := xobjs[name].(pdfRef)
	s, ok := d.resolve(xobjs[name]).(*pdfStream)
	if !ok || d.resolve(s.dict["Subtype"]) != pdfName("Form") || (isRef && ip.forms[ref.num]) {
		return nil
	}
	ip.formRuns++
	data, err := d.decode(s)
	if isBudget(err) {
		return err
	}
	fres := d.dict(s.dict["Resources"])
	if fres == nil {
		fres = res
	}
	saved := ip.gs
	if m, ok := d.resolve(s.dict["Matrix"]).(pdfArray); ok && len(m) == 6 {
		ip.gs.ctm = matrixOf(m).mul(ip.gs.ctm)
	}
	if isRef {
		ip.forms[ref.num] = true
		defer delete(ip.forms, ref.num)
	}
	err = ip.run(data, fres, depth+1)
	ip.gs = saved
	return err
}

func matrixOf(a []any) pdfMatrix {
	var m pdfMatrix
	for i := range m {
		if i < len(a) {
			m[i] = num(a[i])
		}
	}
	return m
}

func (ip *pdfInterp) nextLine() {
	ip.tlm = pdfMatrix{1, 0, 0, 1, 0, -ip.gs.tl}.mul(ip.tlm)
	ip.tm = ip.tlm
}

// advance moves the text matrix by tx in text space.
func (ip *pdfInterp) advance(tx float64) {
	ip.tm = pdfMatrix{1, 0, 0, 1, tx, 0}.mul(ip.tm)
}

// show lays out one string operand.
func (ip *pdfInterp) show(o any) {
	s, ok := o.(pdfString)
	if !ok || len(s) == 0 {
		return
	}
	out := &ip.d.x.out
	f := ip.gs.font
	if f == nil {
		f = ip.plain
	}
	trm := ip.tm.mul(ip.gs.ctm)
	x0, y0 := trm.apply(0, ip.gs.rise)
	h := math.Abs(ip.gs.fs) * math.Hypot(trm[2], trm[3])
	dx, dy := trm[0], trm[1]
	if n := math.Hypot(dx, dy); n > 0 {
		dx, dy = dx/n, dy/n
	} else {
		dx, dy = 1, 0
	}
	if ip.have {
		size := math.Max(math.Max(h, ip.lastH), 1e-6)
		vx, vy := x0-ip.lastX, y0-ip.lastY
		along := vx*ip.lastDir[0] + vy*ip.lastDir[1]
		across := -vx*ip.lastDir[1] + vy*ip.lastDir[0]
		switch {
		case math.Abs(across) > 0.5*size || math.IsNaN(across):
			out.newline()
		case along > 0.15*size || along < -size:
			out.space()
		}
	}
	f.each(s, func(text string, w float64, space bool) {
		if text != "" {
			out.inline(text)
		}
		adv := w/1000*ip.gs.fs + ip.gs.tc
		if space {
			adv += ip.gs.tw
		}
		ip.advance(adv * ip.gs.th)
	})
	end := ip.tm.mul(ip.gs.ctm)
	ip.lastX, ip.lastY = end.apply(0, ip.gs.rise)
	ip.lastH, ip.lastDir, ip.have = h, [2]float64{dx, dy}, true
}
