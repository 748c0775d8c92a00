package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
)

// postfixInstance is a Postfix of its own in a directory (configuration, queue,
// data, log), listening on one loopback address: the real MTA that the gateway's
// tests and `bench gateway` talk to. It needs root and Debian's postfix package.
type postfixInstance struct {
	bin, dir string
	uid, gid int
}

// newPostfixInstance writes the configuration: the common settings, an smtpd on
// listen, every service with chroot off, and extraMain appended to main.cf.
func newPostfixInstance(dir, listen, extraMain string) (*postfixInstance, error) {
	bin, err := exec.LookPath("postfix")
	if err != nil {
		bin = "/usr/sbin/postfix"
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("postfix is not installed (apt-get install postfix)")
		}
	}
	u, err := user.Lookup("postfix")
	if err != nil {
		return nil, fmt.Errorf("no postfix user: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("a Postfix instance needs root")
	}
	p := &postfixInstance{bin: bin, dir: dir}
	p.uid, _ = strconv.Atoi(u.Uid)
	p.gid, _ = strconv.Atoi(u.Gid)
	// The queue belongs to root (postfix start sets its subdirectories' owners), the
	// data directory to the postfix user, who must be able to reach it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"spool", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chown(filepath.Join(dir, "data"), p.uid, p.gid); err != nil {
		return nil, err
	}
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
biff = no
`, dir) + extraMain
	masterCf := listen + " inet n - n - - smtpd\n" + `pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(masterCf), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// command runs `postfix -c DIR args…` (start, stop, start-fg).
func (p *postfixInstance) command(args ...string) *exec.Cmd {
	return exec.Command(p.bin, append([]string{"-c", p.dir}, args...)...)
}

// log is the instance's mail log.
func (p *postfixInstance) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}
