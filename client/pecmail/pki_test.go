package pecmail

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// testPKI is a provider's signing chain made for one test: a root, an intermediate, and the signing
// certificate of the provider's PEC system.
type testPKI struct {
	root       *x509.Certificate
	rootKey    crypto.Signer
	inter      *x509.Certificate
	interKey   crypto.Signer
	leaf       *x509.Certificate
	leafKey    crypto.Signer
	pool       *x509.CertPool
	serverCert *x509.Certificate
	serverKey  crypto.Signer
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, key crypto.Signer, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// newPKI makes a chain valid from a year ago to ten years ahead, so that the signing time the signature
// carries (now) is inside it.
func newPKI(t testing.TB, org string) *testPKI {
	t.Helper()
	from, to := time.Now().AddDate(-1, 0, 0), time.Now().AddDate(10, 0, 0)
	p := &testPKI{rootKey: newKey(t), interKey: newKey(t), leafKey: newKey(t), serverKey: newKey(t)}
	p.root = issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: org + " Root CA", Organization: []string{org}},
		NotBefore: from, NotAfter: to, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, p.rootKey, nil)
	p.inter = issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: org + " PEC CA", Organization: []string{org}},
		NotBefore: from, NotAfter: to, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.root, p.interKey, p.rootKey)
	p.leaf = issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "Posta Certificata " + org, Organization: []string{org}},
		NotBefore:    from, NotAfter: to, EmailAddresses: []string{"posta-certificata@pec.gestore.example"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, p.inter, p.leafKey, p.interKey)
	p.serverCert = issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "imap.test"},
		NotBefore: from, NotAfter: to, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, p.root, p.serverKey, p.rootKey)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.root)
	return p
}

// sign makes a PKCS#7 signed-data over content as a PEC provider does: SHA-256, the signing certificate
// and its intermediate included; detached leaves the content out (multipart/signed).
func (p *testPKI) sign(t testing.TB, content []byte, detached bool) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(p.leaf, p.leafKey, []*x509.Certificate{p.inter}, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	if detached {
		sd.Detach()
	}
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}
