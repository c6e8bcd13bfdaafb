package ike_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/ike/iketest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// TestLogsHideKeys runs a handshake and a rekey with debug logging and
// checks that state changes are logged and no key material is.
func TestLogsHideKeys(t *testing.T) {
	var buf lockedBuffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel))
	icfg, rcfg := pskConfigs()
	icfg.Logger, rcfg.Logger = log, log
	p := iketest.NewPair(t, icfg, rcfg, ike.DispatcherConfig{})
	p.Handshake()
	sa := p.Init
	p.I.Do(sa, func(now time.Time) ([]ike.Action, error) { return sa.RekeyChild(now, sa.Children()[0].InboundSPI) })
	p.Run()
	out := buf.String()
	for _, want := range []string{"IKE SA established", "Child SA installed", "Child SA deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	var secrets [][]byte
	for _, e := range append(p.I.Events(), p.R.Events()...) {
		if ic, ok := e.Action.(ike.InstallChild); ok {
			c := ic.Child
			secrets = append(secrets, c.Inbound.Encr, c.Outbound.Encr)
		}
	}
	secrets = append(secrets, icfg.LocalAuth.PSK)
	if len(secrets) < 5 {
		t.Fatal("no keys to look for")
	}
	for _, k := range secrets {
		for _, enc := range []string{hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), string(k)} {
			if strings.Contains(out, enc) {
				t.Fatalf("key material in the log")
			}
		}
	}
}
