package mailbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	mensaje1 = "From: \"Lic. José Ángel Martínez\" <jamartinez@sep.gob.mx>\nTo: \"Mtra. Lucía Hernández Robles\" <lhernandez@sep.gob.mx>\nSubject: Oficio 123/2025\n\nSe remite el oficio.\n"
	mensaje2 = "Return-Path: <oficialia@sep.gob.mx>\r\nSubject: Acuse\r\n\r\nRecibido.\r\n"
	mensaje3 = "Received: from mx.sep.gob.mx\n\tby archivo.sep.gob.mx; Mon, 6 Jan 2025 09:15:00 -0600\nSubject: Enviado\n\nCopia del enviado.\n"
	buzon    = "From jamartinez@sep.gob.mx Mon Jan  6 09:15:02 2025\nSubject: uno\n\n>From la oficialía.\n\nFrom lhernandez@sep.gob.mx Mon Jan  6 11:02:40 2025\nSubject: dos\n\nfin\n"
)

// tree builds a directory with a maildir (and Maildir++ folders), server files, an
// mbox, loose messages, non-mail files and symbolic links, and returns its path.
func tree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "correo")
	files := map[string]string{
		"Maildir/cur/1736176502.M1P100.archivo:2,S":               mensaje1,
		"Maildir/cur/.1736176503.M2P100.archivo:2,S":              mensaje1, // dot: skipped by the maildir spec
		"Maildir/new/1736176600.M3P100.archivo":                   mensaje2,
		"Maildir/tmp/1736176700.M4P100.archivo":                   mensaje2, // delivery in progress
		"Maildir/dovecot.index":                                   "\x00\x01binario",
		"Maildir/dovecot.index.log":                               "\x00\x02binario",
		"Maildir/dovecot.list.index.log":                          "\x00\x03binario",
		"Maildir/dovecot-uidlist":                                 "3 V1736176502 N3\n",
		"Maildir/dovecot-keywords":                                "0 $Forwarded\n",
		"Maildir/subscriptions":                                   "Enviados\n",
		"Maildir/courierimapuiddb":                                "1 1736176502 1\n",
		"Maildir/.Enviados/maildirfolder":                         "",
		"Maildir/.Enviados/cur/1736176800.M5P100.archivo:2,S":     mensaje3,
		"Maildir/.Enviados/new/.keep":                             "",
		"Maildir/.Enviados/dovecot-uidvalidity.677bf3a0":          "",
		"Maildir/.Borradores/cur/1736176900.M6P100.archivo:2,DS":  "",
		"Maildir/.Borradores/new/1736176901.M7P100.archivo":       "no parece correo pero está en new/\n",
		"MANIFEST.tsv":                                            "# file\tbytes\tsha256\nbuzon.mbox\t120\tabc\n",
		"respaldo.tar.zst":                                        "\x28\xb5\x2f\xfd\x00\x58\x61\x00",
		"notas.txt":                                               "Pendientes para el lunes: revisar oficios.\n",
		"vacío.eml":                                               "",
		"blancos.eml":                                             "\n\n  \n",
		"buzon.mbox":                                              buzon,
		"sueltos/oficio.eml":                                      mensaje1,
		"sueltos/.DS_Store":                                       "\x00\x00\x00\x01Bud1",
		"sueltos/Thumbs.db":                                       "\xd0\xcf\x11\xe0",
		"sueltos/From-linea.txt":                                  "From here on, este archivo no es un mbox.\nSubject: x\n",
		"sueltos/obsoleto.eml":                                    "Subject : encabezado con espacio antes de los dos puntos\n\nok\n",
		"sueltos/sin-dospuntos.txt":                               "Subject sin dos puntos\n",
		"sueltos/Maildir-falso/cur/mensaje":                       mensaje3, // no new/: not a maildir
		"sueltos/Maildir-falso/cur/notas":                         "sin encabezados\n",
		"sueltos/courierimapkeywords/:list":                       "x\n",
		"Maildir/.Enviados/cur/subcarpeta/1736177000.M8P100.host": mensaje2,
	}
	for name, data := range files {
		writeFile(t, filepath.Join(root, filepath.FromSlash(name)), data)
	}
	for _, d := range []string{"Maildir/.Enviados/tmp", "Maildir/.Borradores/tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"bucle":              ".",          // to the tree itself
		"sueltos/arriba":     "../..",      // out of the tree
		"sueltos/enlace.eml": "oficio.eml", // to a file
		"Maildir/cur/enlace": "../new/1736176600.M3P100.archivo",
		"sueltos/roto.eml":   "no-existe.eml",
		"Maildir/.Papelera":  "../sueltos",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Skipf("symbolic links not available: %v", err)
		}
	}
	return root
}

func TestScanTree(t *testing.T) {
	root := tree(t)
	items, skips := scanAll(t, []string{root}, Options{})

	type got struct {
		Source string
		Format Format
		Data   string
		Err    string
	}
	var gotItems []got
	for _, it := range items {
		g := got{Source: strings.TrimPrefix(it.Source, root+"/"), Format: it.Format, Data: string(it.Data)}
		if it.Err != nil {
			g.Err = it.Err.Error()
		}
		gotItems = append(gotItems, g)
	}
	at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	wantItems := []got{
		{"Maildir/.Borradores/cur/1736176900.M6P100.archivo:2,DS", FormatMaildir, "", "read " + at("Maildir/.Borradores/cur/1736176900.M6P100.archivo:2,DS") + ": mailbox: empty message"},
		{"Maildir/.Borradores/new/1736176901.M7P100.archivo", FormatMaildir, "no parece correo pero está en new/\n", ""},
		{"Maildir/.Enviados/cur/1736176800.M5P100.archivo:2,S", FormatMaildir, mensaje3, ""},
		{"Maildir/.Enviados/cur/subcarpeta/1736177000.M8P100.host", FormatEML, mensaje2, ""},
		{"Maildir/cur/1736176502.M1P100.archivo:2,S", FormatMaildir, mensaje1, ""},
		{"Maildir/new/1736176600.M3P100.archivo", FormatMaildir, mensaje2, ""},
		{"buzon.mbox:0", FormatMbox, "Subject: uno\n\nFrom la oficialía.\n", ""},
		{"buzon.mbox:88", FormatMbox, "Subject: dos\n\nfin\n", ""},
		{"sueltos/From-linea.txt", FormatEML, "From here on, este archivo no es un mbox.\nSubject: x\n", ""},
		{"sueltos/Maildir-falso/cur/mensaje", FormatEML, mensaje3, ""},
		{"sueltos/obsoleto.eml", FormatEML, "Subject : encabezado con espacio antes de los dos puntos\n\nok\n", ""},
		{"sueltos/oficio.eml", FormatEML, mensaje1, ""},
	}
	if !reflect.DeepEqual(gotItems, wantItems) {
		t.Errorf("items:\n%+v\nwant\n%+v", gotItems, wantItems)
	}

	notMail := "not mail: first line is not a header field"
	wantSkips := []Skip{
		{at("MANIFEST.tsv"), notMail},
		{at("Maildir/.Enviados/new/.keep"), "maildir: name starts with a dot"},
		{at("Maildir/.Papelera"), "symbolic link not followed"},
		{at("Maildir/cur/.1736176503.M2P100.archivo:2,S"), "maildir: name starts with a dot"},
		{at("Maildir/cur/enlace"), "symbolic link not followed"},
		{at("Maildir/tmp"), "maildir tmp/ not read (deliveries in progress)"},
		{at("blancos.eml"), "not mail: only blank lines"},
		{at("bucle"), "symbolic link not followed"},
		{at("notas.txt"), notMail},
		{at("respaldo.tar.zst"), notMail},
		{at("sueltos/Maildir-falso/cur/notas"), notMail},
		{at("sueltos/arriba"), "symbolic link not followed"},
		{at("sueltos/enlace.eml"), "symbolic link not followed"},
		{at("sueltos/roto.eml"), "symbolic link not followed"},
		{at("sueltos/sin-dospuntos.txt"), notMail},
		{at("vacío.eml"), "empty file"},
	}
	if !reflect.DeepEqual(skips, wantSkips) {
		t.Errorf("skips:\n%+v\nwant\n%+v", skips, wantSkips)
	}

	// Estimate counts the files Scan opens: every regular file a walk reaches that is
	// not a known server file, in tmp/, or a dot file in cur/ or new/.
	files, size, err := Estimate(context.Background(), []string{root}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wantFiles int
	var wantSize int64
	for _, p := range []string{
		"Maildir/.Borradores/cur/1736176900.M6P100.archivo:2,DS", "Maildir/.Borradores/new/1736176901.M7P100.archivo",
		"Maildir/.Enviados/cur/1736176800.M5P100.archivo:2,S", "Maildir/.Enviados/cur/subcarpeta/1736177000.M8P100.host",
		"Maildir/cur/1736176502.M1P100.archivo:2,S", "Maildir/new/1736176600.M3P100.archivo",
		"MANIFEST.tsv", "respaldo.tar.zst", "notas.txt", "vacío.eml", "blancos.eml", "buzon.mbox",
		"sueltos/oficio.eml", "sueltos/From-linea.txt", "sueltos/obsoleto.eml", "sueltos/sin-dospuntos.txt",
		"sueltos/Maildir-falso/cur/mensaje", "sueltos/Maildir-falso/cur/notas",
	} {
		fi, err := os.Stat(at(p))
		if err != nil {
			t.Fatal(err)
		}
		wantFiles++
		wantSize += fi.Size()
	}
	if files != wantFiles || size != wantSize {
		t.Errorf("Estimate = %d files, %d bytes; want %d, %d", files, size, wantFiles, wantSize)
	}

	// Same tree, same sources: a second run and a run from another working
	// directory with a relative path give the same list.
	t.Chdir(filepath.Dir(root))
	again, _ := scanAll(t, []string{"correo"}, Options{})
	if len(again) != len(items) {
		t.Fatalf("second run: %d items, want %d", len(again), len(items))
	}
	for i := range items {
		if again[i].Source != items[i].Source {
			t.Errorf("second run item %d: %s, want %s", i, again[i].Source, items[i].Source)
		}
	}
}

// TestScanNamed: named paths are always imported, in the order given.
func TestScanNamed(t *testing.T) {
	root := tree(t)
	at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	tests := []struct {
		name    string
		path    string
		opt     Options
		format  Format
		data    string
		wantErr error
	}{
		{"non-mail file", "notas.txt", Options{}, FormatEML, "Pendientes para el lunes: revisar oficios.\n", nil},
		{"binary file", "respaldo.tar.zst", Options{}, FormatEML, "\x28\xb5\x2f\xfd\x00\x58\x61\x00", nil},
		{"blank file", "blancos.eml", Options{}, FormatEML, "\n\n  \n", nil},
		{"empty file", "vacío.eml", Options{}, FormatEML, "", ErrEmpty},
		{"missing file", "no-existe.eml", Options{}, "", "", fs.ErrNotExist},
		{"broken link", "sueltos/roto.eml", Options{}, "", "", fs.ErrNotExist},
		{"link to a file is followed", "sueltos/enlace.eml", Options{}, FormatEML, mensaje1, nil},
		{"maildir file named directly", "Maildir/cur/1736176502.M1P100.archivo:2,S", Options{}, FormatEML, mensaje1, nil},
		{"over the size limit", "sueltos/oficio.eml", Options{MaxMessageSize: 10}, FormatEML, "", ErrTooLarge},
		{"not a regular file", "/dev/null", Options{}, "", "", ErrNotRegular},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			if !filepath.IsAbs(p) {
				p = at(p)
			}
			if tc.wantErr == ErrNotRegular {
				if fi, err := os.Stat(p); err != nil || fi.Mode().IsRegular() {
					t.Skip("no /dev/null device")
				}
			}
			items, skips := scanAll(t, []string{p}, tc.opt)
			if len(items) != 1 || len(skips) != 0 {
				t.Fatalf("got %d items, %d skips; want 1 item", len(items), len(skips))
			}
			it := items[0]
			if it.Source != p || it.Format != tc.format || string(it.Data) != tc.data || !errors.Is(it.Err, tc.wantErr) {
				t.Errorf("got %s %s %q %v; want %s %s %q %v", it.Source, it.Format, it.Data, it.Err, p, tc.format, tc.data, tc.wantErr)
			}
			var re *ReadError
			if tc.wantErr != nil && (!errors.As(it.Err, &re) || re.Path != p || !strings.HasPrefix(it.Err.Error(), "read "+p+": ")) {
				t.Errorf("error %v does not name the path", it.Err)
			}
			if tc.wantErr == ErrTooLarge && it.Input != int64(len(mensaje1)) {
				t.Errorf("input %d, want %d", it.Input, len(mensaje1))
			}
		})
	}

	// Order: as given, a directory in place.
	items, _ := scanAll(t, []string{at("notas.txt"), at("sueltos/Maildir-falso"), at("buzon.mbox")}, Options{})
	var got []string
	for _, it := range items {
		got = append(got, strings.TrimPrefix(it.Source, root+"/"))
	}
	want := []string{"notas.txt", "sueltos/Maildir-falso/cur/mensaje", "buzon.mbox:0", "buzon.mbox:88"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestScanMaildirRoot(t *testing.T) {
	root := tree(t)
	items, skips := scanAll(t, []string{filepath.Join(root, "Maildir", ".Enviados")}, Options{})
	if len(items) != 2 || items[0].Format != FormatMaildir || string(items[0].Data) != mensaje3 {
		t.Errorf("got %+v", items)
	}
	if len(skips) != 1 || !strings.HasSuffix(skips[0].Path, "/new/.keep") {
		t.Errorf("skips %+v", skips)
	}
}

func TestScanStops(t *testing.T) {
	root := tree(t)
	stop := errors.New("alto")
	n := 0
	err := Scan(context.Background(), []string{root}, Options{}, func(Item) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("fn error: Scan returned %v after %d items; want %v after 3", err, n, stop)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Scan(ctx, []string{root, root}, Options{}, func(Item) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled || n != 2 {
		t.Errorf("cancel: Scan returned %v after %d items; want context.Canceled after 2", err, n)
	}
	if _, _, err := Estimate(ctx, []string{root}, Options{}); err != context.Canceled {
		t.Errorf("Estimate with cancelled context: %v", err)
	}
}

func TestReadErrorText(t *testing.T) {
	tests := []struct {
		err  *ReadError
		want string
	}{
		{&ReadError{Path: "/x/inbox.mbox", Offset: 12345, Err: ErrTooLarge}, "read /x/inbox.mbox at offset 12345: mailbox: message too large"},
		{&ReadError{Path: "/x/oficio.eml", Offset: -1, Err: ErrEmpty}, "read /x/oficio.eml: mailbox: empty message"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, tc.err.Err) {
			t.Errorf("%v does not unwrap", tc.err)
		}
	}
}
