package extract

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
)

// pdfCrypt decrypts the streams of a PDF encrypted by the standard security
// handler (ISO 32000-1 §7.6.3, ISO 32000-2 §7.6.4) when the user password
// is empty, the common case of documents that are only protected against
// editing or printing: RC4 (V1, V2), AES-128 (V4 AESV2) and AES-256
// (V5, R5 and R6). A user password, or another security handler, gives
// ErrUnsupported.
type pdfCrypt struct {
	key    []byte
	method string // "RC4", "AESV2", "AESV3" or "None"
	r      int
}

// pdfPadding is the password padding string of Algorithm 2.
const pdfPadding = "\x28\xbf\x4e\x5e\x4e\x75\x8a\x41\x64\x00\x4e\x56\xff\xfa\x01\x08" +
	"\x2e\x2e\x00\xb6\xd0\x68\x3e\x80\x2f\x0c\xa9\xfe\x64\x53\x69\x7a"

func newPDFCrypt(enc, trailer pdfDict) (*pdfCrypt, error) {
	if enc["Filter"] != pdfName("Standard") {
		return nil, fmt.Errorf("pdf encrypted with handler %v: %w", enc["Filter"], ErrUnsupported)
	}
	v, r := int(num(enc["V"])), int(num(enc["R"]))
	o, u := bytesOf(enc["O"]), bytesOf(enc["U"])
	c := &pdfCrypt{r: r, method: "RC4"}
	if v == 4 || v == 5 {
		c.method = "None"
		if cf, ok := enc["CF"].(pdfDict); ok {
			stmf, _ := enc["StmF"].(pdfName)
			if f, ok := cf[stmf].(pdfDict); ok {
				switch f["CFM"] {
				case pdfName("AESV2"):
					c.method = "AESV2"
				case pdfName("AESV3"):
					c.method = "AESV3"
				case pdfName("V2"):
					c.method = "RC4"
				}
			}
		}
	}
	switch {
	case r >= 5:
		ue := bytesOf(enc["UE"])
		if len(u) < 48 || len(ue) < 32 {
			return nil, fmt.Errorf("pdf encryption dictionary: short U/UE: %w", ErrCorrupt)
		}
		if !bytes.Equal(pdfHash6(nil, u[32:40], nil, r), u[:32]) {
			return nil, fmt.Errorf("pdf encrypted with a user password: %w", ErrUnsupported)
		}
		ikey := pdfHash6(nil, u[40:48], nil, r)
		blk, err := aes.NewCipher(ikey)
		if err != nil {
			return nil, fmt.Errorf("pdf encryption key: %v: %w", err, ErrCorrupt)
		}
		c.key = make([]byte, 32)
		cipher.NewCBCDecrypter(blk, make([]byte, 16)).CryptBlocks(c.key, ue[:32])
		return c, nil
	case r >= 2 && r <= 4:
		n := 5
		if r >= 3 {
			n = int(num(enc["Length"])) / 8
			if n < 5 || n > 16 {
				n = 16
			}
		}
		var id []byte
		if ids, ok := trailer["ID"].(pdfArray); ok && len(ids) > 0 {
			id = bytesOf(ids[0])
		}
		h := md5.New()
		h.Write([]byte(pdfPadding))
		h.Write(o)
		var p [4]byte
		binary.LittleEndian.PutUint32(p[:], uint32(int32(num(enc["P"]))))
		h.Write(p[:])
		h.Write(id)
		if r >= 4 && enc["EncryptMetadata"] == false {
			h.Write([]byte{0xff, 0xff, 0xff, 0xff})
		}
		key := h.Sum(nil)
		if r >= 3 {
			for range 50 {
				sum := md5.Sum(key[:n])
				key = sum[:]
			}
		}
		c.key = key[:n]
		if !c.checkUser(u, id) {
			return nil, fmt.Errorf("pdf encrypted with a user password: %w", ErrUnsupported)
		}
		return c, nil
	}
	return nil, fmt.Errorf("pdf encryption revision %d: %w", r, ErrUnsupported)
}

// checkUser verifies the key against /U (Algorithms 4 and 5).
func (c *pdfCrypt) checkUser(u, id []byte) bool {
	if len(u) < 16 {
		return false
	}
	if c.r == 2 {
		ci, _ := rc4.NewCipher(c.key)
		out := make([]byte, 32)
		ci.XORKeyStream(out, []byte(pdfPadding))
		return bytes.Equal(out, u[:min(32, len(u))])
	}
	h := md5.New()
	h.Write([]byte(pdfPadding))
	h.Write(id)
	out := h.Sum(nil)
	k := make([]byte, len(c.key))
	for i := range 20 {
		for j := range k {
			k[j] = c.key[j] ^ byte(i)
		}
		ci, _ := rc4.NewCipher(k)
		ci.XORKeyStream(out, out)
	}
	return bytes.Equal(out[:16], u[:16])
}

// decrypt returns the plaintext of the data of object num gen; data that
// does not decrypt is returned as is.
func (c *pdfCrypt) decrypt(data []byte, num, gen int) []byte {
	key := c.key
	if c.method != "AESV3" {
		h := md5.New()
		h.Write(c.key)
		h.Write([]byte{byte(num), byte(num >> 8), byte(num >> 16), byte(gen), byte(gen >> 8)})
		if c.method == "AESV2" {
			h.Write([]byte("sAlT"))
		}
		key = h.Sum(nil)[:min(len(c.key)+5, 16)]
	}
	switch c.method {
	case "None":
		return data
	case "RC4":
		ci, err := rc4.NewCipher(key)
		if err != nil {
			return data
		}
		out := make([]byte, len(data))
		ci.XORKeyStream(out, data)
		return out
	}
	if len(data) < 32 || len(data)%16 != 0 {
		return data
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return data
	}
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(blk, data[:16]).CryptBlocks(out, data[16:])
	if p := int(out[len(out)-1]); p >= 1 && p <= 16 {
		out = out[:len(out)-p]
	}
	return out
}

// pdfHash6 is the password hash of revision 6 (ISO 32000-2 Algorithm 2.B),
// or plain SHA-256 for revision 5.
func pdfHash6(pw, salt, udata []byte, r int) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	k := h.Sum(nil)
	if r == 5 {
		return k
	}
	for i := 0; ; i++ {
		var k1 []byte
		for range 64 {
			k1 = append(k1, pw...)
			k1 = append(k1, k...)
			k1 = append(k1, udata...)
		}
		blk, _ := aes.NewCipher(k[:16])
		e := make([]byte, len(k1))
		cipher.NewCBCEncrypter(blk, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var next hash.Hash
		switch sum % 3 {
		case 0:
			next = sha256.New()
		case 1:
			next = sha512.New384()
		default:
			next = sha512.New()
		}
		next.Write(e)
		k = next.Sum(nil)
		if i >= 63 && int(e[len(e)-1]) <= i-31 {
			break
		}
	}
	return k[:32]
}
