package extract

import "testing"

func TestHTML(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := HTML([]byte(in)); got != want {
			t.Errorf("HTML(%q) = %q, want %q", in, got, want)
		}
	}
	test("", "")
	test("hola", "hola")
	test("<p>uno</p><p>dos</p>", "uno\ndos")
	test("a<br>b<br/>c<BR />d", "a\nb\nc\nd")
	test("<b>negrita</b> y <i>cursiva</i>", "negrita y cursiva")
	test("Jos&eacute; &amp; Mar&iacute;a &lt;x&gt; &#241; &#xF1; &notanentity; &nbsp;fin", "José & María <x> ñ ñ ¬anentity; fin") // HTML5 reads the legacy "&not" prefix
	test("<head><title>t</title><style>p{}</style></head><body>cuerpo</body>", "cuerpo")
	test("<html><head><meta charset=utf-8><title>t</title>visible sin body", "visible sin body")
	test("<SCRIPT type='x'>if (a<b) {}</SCRIPT>después", "después")
	test("<script>sin cierre", "")
	test("<!-- <p>oculto</p> -->visible<!-- sin cierre", "visible")
	test("<!DOCTYPE html><?xml x?>texto", "texto")
	test("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc")
	test("<pre>  dos   espacios\n  línea</pre>", "dos espacios\nlínea")
	test("palabra\n  partida\ten\r\nvarias", "palabra partida en varias")
	test(`<a href="x>y" title='z>w'>enlace</a>`, "enlace")
	test("3 < 5 y 5 > 3 <", "3 < 5 y 5 > 3 <")
	test("<div>a<div>b</div>c</div>", "a\nb\nc")
	test("<ul><li>uno<li>dos</ul>", "uno\ndos")
	test("<p>a</p>\n\n\n<p>b</p>", "a\nb")
	test("inv\xe1lido", "inv\ufffdlido")
	test("<img src=x alt=foto>texto<svg><text>logo</text></svg>", "texto")
	test("<noscript>sin js</noscript>", "sin js")
	test("<textarea>línea 1\nlínea 2</textarea>", "línea 1\nlínea 2")
}

func TestTextBuf(t *testing.T) {
	b := textBuf{max: 12}
	b.WriteString("  a \t b\r\n\n c\u00a0\u200bd\x00\ufeffe ")
	if got := b.String(); got != "a b\nc de" || b.full() {
		t.Errorf("got %q full %v", got, b.full())
	}
	b.WriteString(" ñññ")
	if got := b.String(); got != "a b\nc de ñ" || !b.full() {
		t.Errorf("got %q (%d bytes) full %v", got, len(got), b.full())
	}
}
