package crypto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestKeyNeverPrints formats keys, and structs holding keys, with every
// common verb and encoder, and looks for the key bytes in any spelling.
func TestKeyNeverPrints(t *testing.T) {
	secret := Key(bytes.Repeat([]byte{0xab, 0xcd}, 16))
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	ike, err := DeriveIKEKeys(Suite{Encr: EncrAESCBC, EncrKeyBits: 128, Integ: IntegHMACSHA2_256_128, PRF: PRFHMACSHA2_256}, secret, ni, nr, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	child, err := DeriveChildKeys(ike.PRF, ike.D, Suite{Encr: EncrAESGCM16, EncrKeyBits: 256}, nil, ni, nr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ := ike.Ciphers(true, Config{})
	gcm, _ := NewCipher(child.Suite, child.InitiatorToResponder.Encr, nil, Config{})
	integ, _ := NewInteg(IntegHMACSHA2_256_128, ike.AI)
	values := map[string]any{"Key": secret, "*IKEKeys": ike, "IKEKeys": *ike, "*ChildKeys": child,
		"CBC": out, "GCM": gcm, "Integ": integ}
	var leaks [][]byte
	for _, k := range []Key{secret, ike.D, ike.AI, ike.EI, ike.PI, child.InitiatorToResponder.Encr} {
		leaks = append(leaks, k, k[len(k)-4:]) // the tail: AEAD salts
	}
	for name, v := range values {
		var outs []string
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			outs = append(outs, fmt.Sprintf(f, v))
		}
		j, err := json.Marshal(v)
		if err == nil {
			outs = append(outs, string(j))
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		outs = append(outs, buf.String())
		for _, s := range outs {
			low := strings.ToLower(s)
			for _, k := range leaks {
				if strings.Contains(low, hex.EncodeToString(k[:4])) || strings.Contains(s, string(k[:4])) ||
					strings.Contains(s, fmt.Sprint([]byte(k[:4]))[1:8]) {
					t.Errorf("%s leaks key bytes: %.200s", name, s)
				}
			}
		}
	}
	if got := fmt.Sprint(secret); got != "[redacted 32 bytes]" {
		t.Errorf("Key prints as %q", got)
	}
	if got := fmt.Sprintf("%#v", secret); got != "crypto.Key[redacted 32 bytes]" {
		t.Errorf("Key %%#v prints as %q", got)
	}
}

func TestKeyHelpers(t *testing.T) {
	k := Key{1, 2, 3}
	c := k.Clone()
	c[0] = 9
	if k[0] != 1 || !k.Equal(Key{1, 2, 3}) || k.Equal(c) {
		t.Errorf("Clone/Equal broken")
	}
	k.Wipe()
	if !bytes.Equal(k, []byte{0, 0, 0}) {
		t.Errorf("Wipe left %v", []byte(k))
	}
	if Key(nil).Clone() != nil {
		t.Errorf("Clone(nil) != nil")
	}
}
