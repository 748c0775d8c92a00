package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/keys"
)

// webTLS is the web server's TLS configuration for listen, nil for plain
// HTTP. Security by default: plain HTTP only on a loopback address (the
// README's first start) or when [server] insecure_http says a proxy in front
// terminates TLS; [server] tls_cert_file/tls_key_file when given; otherwise
// the generated self-signed certificate of keys/gateway/ (the gateway's, for
// the same host name), said once on standard error.
func (m *Main) webTLS(a *archive.Archive, listen string) (*tls.Config, error) {
	c := m.Config.Server
	certFile, keyFile := c.TLSCertFile, c.TLSKeyFile
	if certFile == "" {
		if c.InsecureHTTP || loopbackListen(listen) {
			if !loopbackListen(listen) {
				m.Logger.Warn("serving plain HTTP on a non-loopback address (server.insecure_http): a proxy in front must terminate TLS", "listen", listen)
			}
			return nil, nil
		}
		var created bool
		var err error
		certFile, keyFile, created, err = keys.InitGatewayTLS(archive.Layout{Dir: a.Dir()}.Keys(), gatewayHost(m.Config.Gateway), nowUTC())
		if err != nil {
			return nil, fmt.Errorf("web TLS certificate: %w", err)
		}
		if created {
			fmt.Fprintln(m.Stderr, m.P.T("gateway.tls.created", certFile))
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// loopbackListen reports whether host:port listens on loopback only
// ("localhost", 127.0.0.0/8, ::1); an empty host or a wildcard is every
// interface.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// webURL is the web server's base URL on addr.
func webURL(addr net.Addr, https bool) string {
	if https {
		return "https://" + addr.String()
	}
	return "http://" + addr.String()
}
