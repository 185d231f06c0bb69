package fl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files MakeCerts writes into its directory. Client i (from 1) gets
// client<i>.pem and client<i>.key, with common name "client<i>".
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server.key"
)

// MakeCerts writes a certificate authority and certificates signed by it
// for a server (valid for hosts: DNS names or IP addresses; localhost,
// 127.0.0.1 and ::1 when empty) and n clients into dir: ECDSA P-256 keys,
// PEM files, valid for one year. It is meant for tests and demonstrations;
// a hospital network would issue certificates from its own authority.
// Private keys are written readable by their owner only.
func MakeCerts(dir string, n int, hosts []string) error {
	if n < 0 || n > 10000 {
		return fmt.Errorf("fl: %d client certificates: want 0 to 10000", n)
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "deepscope federated CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	if err := writePEM(dir, CACertFile, CAKeyFile, caDER, caKey); err != nil {
		return err
	}
	leaf := func(cn string, usage x509.ExtKeyUsage, hosts []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		t := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.AddDate(1, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				t.IPAddresses = append(t.IPAddresses, ip)
			} else {
				t.DNSNames = append(t.DNSNames, h)
			}
		}
		return t, key, nil
	}
	write := func(name string, t *x509.Certificate, key *ecdsa.PrivateKey) error {
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("fl: %w", err)
		}
		return writePEM(dir, name+".pem", name+".key", der, key)
	}
	t, key, err := leaf("deepscope server", x509.ExtKeyUsageServerAuth, hosts)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	if err := write("server", t, key); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("client%d", i)
		t, key, err := leaf(name, x509.ExtKeyUsageClientAuth, nil)
		if err != nil {
			return fmt.Errorf("fl: %w", err)
		}
		if err := write(name, t, key); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePEM writes a certificate and its private key (PKCS #8, mode 0600).
func writePEM(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	return nil
}

// certPool reads a PEM file of CA certificates.
func certPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("fl: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// ServerTLS returns the TLS configuration of a server that presents the
// given certificate and accepts only clients whose certificate is signed
// by an authority in clientCAFile (mutual TLS, TLS 1.3).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	pool, err := certPool(clientCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}, nil
}

// ClientTLS returns the TLS configuration of a client that presents the
// given certificate and trusts only servers signed by caFile's authority.
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	pool, err := certPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}, nil
}
