// Package notary issues, fetches and verifies RFC 3161 timestamps, so that a record's
// constancia proves when its bytes were in the archive: the ledger's checkpoints are
// hashed with SHA-256 and the digest is timestamped by a Notary.
//
// Standards implemented:
//
//   - RFC 3161 (Time-Stamp Protocol): TimeStampReq, TimeStampResp, PKIStatusInfo,
//     TSTInfo, MessageImprint, Accuracy (§2.4), the TSA certificate profile (§2.3:
//     a single, critical extended key usage id-kp-timeStamping) and the HTTP
//     transport (§3.4, application/timestamp-query → application/timestamp-reply).
//   - RFC 5652 (CMS): the TimeStampToken is a ContentInfo with SignedData (§5)
//     encapsulating the DER TSTInfo (eContentType id-ct-TSTInfo, hence SignedData
//     version 3, §5.1) with signed attributes content-type and message-digest (§11).
//   - RFC 5816 (ESSCertIDv2 update for RFC 3161): tokens carry the
//     signingCertificateV2 attribute of RFC 5035 with a SHA-256 ESSCertIDv2 and
//     issuerSerial. Verification also accepts the SHA-1 ESSCertID of RFC 2634 that
//     older TSAs (GlobalSign in the test corpus) still send.
//   - RFC 5754: SHA-2 AlgorithmIdentifiers; parameters absent or NULL are accepted.
//
// Three parts share the ASN.1 code:
//
//   - Authority, the built-in TSA (CreateAuthority, LoadAuthority, Timestamp, Respond,
//     Handler): an ECDSA P-256 CA and TSA certificate in a directory, 127-bit random
//     serial numbers (nothing to persist; RFC 3161 only needs uniqueness), genTime at
//     one-second precision with accuracy 1s, ordering false. Its default policy
//     DefaultPolicy is a placeholder under the documentation arc of RFC 5612.
//   - Client, for an external TSA (later a NOM-151 PSC) over HTTP with retries.
//   - Verify and ParseToken, offline, for `resguardo verify`. Verify's errors wrap
//     ErrMalformed, ErrImprintMismatch, ErrBadSignature or ErrUntrustedSigner.
//
// Why hand-written on encoding/asn1 and crypto/x509: no RFC 3161 library that builds
// with Go 1.26 is available to the project (digitorus/timestamp needs Go 1.27), and
// the CMS subset needed is small. Writing SignedData directly also gives what generic
// PKCS #7 packages get wrong for timestamps: version 3 for non-data content, DER SET
// OF ordering of the signed attributes and certificates, and a verification path that
// evaluates the certificate chain at genTime rather than at the current time.
// Interoperability is checked against OpenSSL (`openssl ts -verify`, `openssl ts
// -reply` as an independent TSA) and real GlobalSign tokens from the shared corpus.
//
// Limitations: DER only (no BER indefinite lengths); signatures RSA PKCS #1 v1.5 and
// ECDSA with SHA-256/384/512 (no RSASSA-PSS or EdDSA yet); no revocation checking
// (CRL/OCSP) of the TSA certificate.
package notary
