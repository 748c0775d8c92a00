// Package ldaptest starts a real OpenLDAP server (Debian's slapd) for tests: its
// own directory under t.TempDir(), a generated slapd.conf (mdb backend, the
// memberof overlay), free loopback ports for ldap:// (StartTLS offered) and
// ldaps://, a certificate from a throw-away CA, and an invented directory of
// Spanish-named people and groups (no real person). It never touches a system
// slapd: its configuration, database, pid file and ports are its own. The
// server is stopped when the test ends.
//
// When slapd (Debian package slapd) or ldapadd (ldap-utils) is missing, the test
// is skipped, or fails when CI=true, where nothing may be skipped.
package ldaptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// The directory's names.
const (
	BaseDN          = "dc=ejemplo,dc=gob,dc=mx"
	PeopleDN        = "ou=personas," + BaseDN
	GroupsDN        = "ou=grupos," + BaseDN
	AdminDN         = "cn=admin," + BaseDN
	AdminPassword   = "Raiz-de-prueba-2024"
	ServiceDN       = "uid=svc-resguardo,ou=servicios," + BaseDN
	ServicePassword = "Servicio-de-prueba-2024"

	GroupAdministradores = "cn=resguardo-administradores," + GroupsDN
	GroupAuditores       = "cn=resguardo-auditores," + GroupsDN
	GroupTransparencia   = "cn=resguardo-transparencia," + GroupsDN
	GroupServidores      = "cn=servidores-publicos," + GroupsDN
	GroupOtros           = "cn=comedor," + GroupsDN // mapped to no role
)

// Person is an invented directory entry (inetOrgPerson under PeopleDN).
type Person struct {
	UID         string
	Password    string
	DisplayName string
	Mail        []string
	Groups      []string // group DNs
}

// DN is the person's entry.
func (p Person) DN() string { return "uid=" + escapeDNValue(p.UID) + "," + PeopleDN }

// People is the directory's content. None of them exists.
var People = []Person{
	{UID: "jperez", Password: "Juan-Perez-2024!", DisplayName: "Juan Pérez Hernández",
		Mail: []string{"juan.perez@ejemplo.gob.mx", "jperez@ejemplo.gob.mx"}, Groups: []string{GroupServidores, GroupOtros}},
	{UID: "mlopez", Password: "Maria-Lopez-2024!", DisplayName: "María López García",
		Mail: []string{"maria.lopez@ejemplo.gob.mx"}, Groups: []string{GroupAuditores, GroupServidores}},
	{UID: "agarcia", Password: "Ana-Garcia-2024!", DisplayName: "Ana García Núñez",
		Mail: []string{"ana.garcia@ejemplo.gob.mx"}, Groups: []string{GroupAdministradores, GroupTransparencia}},
	{UID: "rsanchez", Password: "Roberto-Sanchez-2024!", DisplayName: "Roberto Sánchez Ortiz",
		Mail: []string{"roberto.sanchez@ejemplo.gob.mx"}, Groups: []string{GroupOtros}},
	// A uid with filter metacharacters: found only if the login is escaped right.
	{UID: "prueba(*)", Password: "Prueba-Escape-2024!", DisplayName: "Cuenta de Prueba",
		Mail: []string{"prueba@ejemplo.gob.mx"}, Groups: []string{GroupServidores}},
}

// Server is a running slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:PORT (StartTLS available)
	LDAPSURL string // ldaps://127.0.0.1:PORT
	CAPEM    []byte // the CA that signed the server's certificate
	Dir      string
}

// CertPool returns a pool holding the server's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CAPEM)
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs slapd with People loaded and returns it; it stops at the test's end.
func Start(t testing.TB) *Server {
	t.Helper()
	slapd := corpustest.Program(t, "slapd", "slapd")
	ldapadd := corpustest.Program(t, "ldapadd", "ldap-utils")
	dir := t.TempDir()
	caPEM := writeCerts(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := filepath.Join(dir, "datos.ldif")
	if err := os.WriteFile(ldif, []byte(LDIF()), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p1, p2 := freePort(t), freePort(t)
		s := &Server{URL: fmt.Sprintf("ldap://127.0.0.1:%d", p1), LDAPSURL: fmt.Sprintf("ldaps://127.0.0.1:%d", p2), CAPEM: caPEM, Dir: dir}
		cmd := exec.Command(slapd, "-d", "0", "-f", conf, "-h", s.URL+"/ "+s.LDAPSURL+"/")
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start slapd: %v", err)
		}
		exited := make(chan struct{})
		go func() {
			cmd.Wait()
			close(exited)
		}()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		if err := waitPort(fmt.Sprintf("127.0.0.1:%d", p1), exited, 15*time.Second); err != nil {
			stop()
			lastErr = fmt.Errorf("slapd: %v\n%s", err, out.String())
			continue
		}
		add := exec.Command(ldapadd, "-x", "-H", s.URL, "-D", AdminDN, "-w", AdminPassword, "-f", ldif)
		if b, err := add.CombinedOutput(); err != nil {
			stop()
			t.Fatalf("ldapadd: %v\n%s\nslapd: %s", err, b, out.String())
		}
		t.Cleanup(stop)
		return s
	}
	t.Fatal(lastErr)
	return nil
}

func waitPort(addr string, exited chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before listening")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening after %v", timeout)
}

func slapdConf(dir string) string {
	return fmt.Sprintf(`# Generated by ldaptest: a private test directory.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key

database mdb
maxsize 16777216
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
overlay memberof

access to attrs=userPassword
	by anonymous auth
	by self write
	by * none
access to *
	by dn.exact="%[5]s" read
	by self read
	by * none
`, dir, BaseDN, AdminDN, AdminPassword, ServiceDN)
}

// ldifValue writes "attr: value", base64 ("attr:: …") when the value is not plain ASCII.
func ldifValue(b *strings.Builder, attr, v string) {
	safe := utf8.ValidString(v) && v != "" && v[0] != ' ' && v[0] != ':' && v[0] != '<' && !strings.HasSuffix(v, " ")
	for i := 0; i < len(v) && safe; i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			safe = false
		}
	}
	if safe {
		fmt.Fprintf(b, "%s: %s\n", attr, v)
	} else {
		fmt.Fprintf(b, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(v)))
	}
}

func escapeDNValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		if strings.ContainsRune(`,+"\<>;=`, r) || (i == 0 && (r == '#' || r == ' ')) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// LDIF is the directory's content: organisational units, the service account,
// People and their groups (groupOfNames; the memberof overlay fills memberOf).
func LDIF() string {
	var b strings.Builder
	b.WriteString("dn: " + BaseDN + "\nobjectClass: dcObject\nobjectClass: organization\ndc: ejemplo\n")
	ldifValue(&b, "o", "Secretaría de Ejemplo (institución ficticia)")
	for _, ou := range []string{"personas", "grupos", "servicios"} {
		fmt.Fprintf(&b, "\ndn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n", ou, BaseDN, ou)
	}
	fmt.Fprintf(&b, "\ndn: %s\nobjectClass: inetOrgPerson\nuid: svc-resguardo\ncn: Resguardo (cuenta de servicio)\nsn: Servicio\nuserPassword: %s\n",
		ServiceDN, ServicePassword)
	members := map[string][]string{}
	for _, p := range People {
		fmt.Fprintf(&b, "\ndn: %s\nobjectClass: inetOrgPerson\n", p.DN())
		ldifValue(&b, "uid", p.UID)
		ldifValue(&b, "cn", p.DisplayName)
		ldifValue(&b, "sn", p.DisplayName[strings.LastIndexByte(p.DisplayName, ' ')+1:])
		ldifValue(&b, "displayName", p.DisplayName)
		for _, m := range p.Mail {
			ldifValue(&b, "mail", m)
		}
		ldifValue(&b, "userPassword", p.Password)
		for _, g := range p.Groups {
			members[g] = append(members[g], p.DN())
		}
	}
	for _, g := range []string{GroupAdministradores, GroupAuditores, GroupTransparencia, GroupServidores, GroupOtros} {
		cn := strings.TrimPrefix(g[:strings.IndexByte(g, ',')], "cn=")
		fmt.Fprintf(&b, "\ndn: %s\nobjectClass: groupOfNames\ncn: %s\n", g, cn)
		ms := members[g]
		if len(ms) == 0 {
			ms = []string{ServiceDN} // groupOfNames needs a member
		}
		for _, m := range ms {
			ldifValue(&b, "member", m)
		}
	}
	return b.String()
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 and localhost in
// dir (ca.pem, server.pem, server.key) and returns the CA's PEM.
func writeCerts(t testing.TB, dir string) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Resguardo ldaptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.pem":     caPEM,
		"server.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM
}
