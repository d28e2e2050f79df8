package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ProviderDomain is the mail domain of the sandbox's PEC provider: its
// receipts come from ReceiptSender and are signed by a certificate for that
// address.
const ProviderDomain = "pec.sandbox.test"

// providerName is the gestore-emittente of every daticert.xml and the
// organization of the test CA.
const providerName = "Sandbox PEC S.p.A. (prova, non valido)"

// testCA is what the IMAP side needs: a root, the provider's S/MIME signing
// certificate under it, and a TLS certificate for the loopback addresses.
type testCA struct {
	root    *x509.Certificate
	rootPEM []byte
	signer  *x509.Certificate
	signKey crypto.Signer
	tls     tls.Certificate
}

// newTestCA generates the sandbox's CA. The root and the provider's
// signing key are RSA-2048 with SHA-256, as real providers sign (measured:
// 60-200 ms a key on a loaded 2-core machine), so it is done once per
// sandbox and only when the IMAP side is first needed. The
// validity is wide around now: the signing time that smallstep/pkcs7 puts
// in a signature is the wall clock, while now may be a test's fixed clock.
func newTestCA(now time.Time) (*testCA, error) {
	notBefore, notAfter := now.AddDate(-10, 0, 0), now.AddDate(20, 0, 0)
	rootKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: CA key: %w", err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Sandbox PEC test CA", Organization: []string{providerName}, Country: []string{"IT"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: CA certificate: %w", err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("sandbox: CA certificate: %w", err)
	}
	issue := func(serial int64, tmpl *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
		der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	signKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sandbox: provider signing key: %w", err)
	}
	signer, err := issue(2, &x509.Certificate{
		Subject:        pkix.Name{CommonName: ReceiptSender, Organization: []string{providerName}, Country: []string{"IT"}},
		EmailAddresses: []string{ReceiptSender},
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, signKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: provider signing certificate: %w", err)
	}
	// The TLS key signs nothing a client keeps: ECDSA P-256 saves a third
	// of the start-up time.
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sandbox: TLS key: %w", err)
	}
	server, err := issue(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{providerName}},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, serverKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: TLS certificate: %w", err)
	}
	return &testCA{
		root:    root,
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		signer:  signer,
		signKey: signKey,
		tls:     tls.Certificate{Certificate: [][]byte{server.Raw, root.Raw}, PrivateKey: serverKey, Leaf: server},
	}, nil
}

// ca returns the sandbox's test CA, generating it on first use.
func (s *Server) ca() (*testCA, error) {
	s.caMu.Lock()
	defer s.caMu.Unlock()
	if s.testCA == nil {
		ca, err := newTestCA(s.now())
		if err != nil {
			return nil, err
		}
		s.testCA = ca
	}
	return s.testCA, nil
}

// CACertificate returns the root of the sandbox's test CA, which issued the
// provider's signing certificate (posta-certificata@pec.sandbox.test) and
// the IMAP server's TLS certificate (localhost, 127.0.0.1, ::1). The CA is
// generated on the first call (of this, CAPEM, ServeIMAP or GET
// /_sandbox/ca.pem) and stays the same for the sandbox's life.
func (s *Server) CACertificate() (*x509.Certificate, error) {
	ca, err := s.ca()
	if err != nil {
		return nil, err
	}
	return ca.root, nil
}

// CAPEM returns CACertificate PEM-encoded: what a client adds to its trust
// store to reach the IMAP server and to verify the receipts' signatures.
func (s *Server) CAPEM() ([]byte, error) {
	ca, err := s.ca()
	if err != nil {
		return nil, err
	}
	return ca.rootPEM, nil
}

// handleCAPEM is GET /_sandbox/ca.pem: no credentials, as a CA certificate
// is public.
func (s *Server) handleCAPEM(w http.ResponseWriter, r *http.Request) {
	pemBytes, err := s.CAPEM()
	if err != nil {
		s.log.Error("sandbox: test CA", "error", err)
		writeJSON(w, http.StatusInternalServerError, failure(err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", strconv.Itoa(len(pemBytes)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pemBytes)
}
