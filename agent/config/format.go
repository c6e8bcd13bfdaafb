package config

import (
	"crypto/rsa"
	"fmt"
	"strconv"
	"strings"
)

// Format writes cfg as a normalised configuration file: config setup and
// every conn with every setting spelled out (defaults included, %default
// and also= already applied), in canonical spelling. Parse reads the output
// back to an equal Config; oe-agentd --check can print it to show how a
// configuration was understood. Manual keying keys are written in hex: the
// output is as sensitive as the input.
func Format(cfg *Config) string {
	var w strings.Builder
	w.WriteString("# oe-agent configuration, normalised\n")
	w.WriteString("version 2\n\n")
	fmtSetup(&w, &cfg.Setup)
	for _, c := range cfg.Conns {
		w.WriteByte('\n')
		fmtConn(&w, c)
	}
	return w.String()
}

func fmtConn(w *strings.Builder, c *Conn) {
	fmt.Fprintf(w, "conn %s\n", c.Name)
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "\t%s=%s\n", k, quoteValue(v))
		}
	}
	kv("type", c.Type.String())
	kv("auto", c.Auto.String())
	kv("keying", c.Keying.String())
	kv("authby", c.AuthBy.String())
	fmtEnd(kv, "left", &c.Left)
	fmtEnd(kv, "right", &c.Right)
	kv("ike", c.IKE.String())
	kv("esp", c.ESP.String())
	kv("ikelifetime", FormatDuration(c.IKELifetime))
	kv("salifetime", FormatDuration(c.SALifetime))
	kv("rekey", fmtBool(c.Rekey))
	kv("rekeymargin", FormatDuration(c.RekeyMargin))
	kv("rekeyfuzz", strconv.Itoa(c.RekeyFuzz)+"%")
	if c.KeyingTries == 0 {
		kv("keyingtries", "%forever")
	} else {
		kv("keyingtries", strconv.Itoa(c.KeyingTries))
	}
	kv("dpddelay", FormatDuration(c.DPDDelay))
	kv("dpdtimeout", FormatDuration(c.DPDTimeout))
	kv("dpdaction", c.DPDAction.String())
	kv("replay-window", strconv.FormatUint(uint64(c.ReplayWindow), 10))
	kv("mark", c.Mark.String())
	if m := c.Manual; m != nil {
		kv("leftespspi", fmt.Sprintf("0x%x", m.LeftToRight.SPI))
		kv("rightespspi", fmt.Sprintf("0x%x", m.RightToLeft.SPI))
		kv("leftespenckey", m.LeftToRight.EncKey.Hex())
		kv("rightespenckey", m.RightToLeft.EncKey.Hex())
		kv("leftespauthkey", m.LeftToRight.AuthKey.Hex())
		kv("rightespauthkey", m.RightToLeft.AuthKey.Hex())
	}
}

func fmtEnd(kv func(k, v string), side string, e *End) {
	kv(side, fmtHost(e.Host))
	kv(side+"subnet", fmtSubnets(e.Subnets))
	kv(side+"id", e.ID.String())
	kv(side+"auth", e.Auth.String())
	// libreswan's name for RSA keys, its generic name for the others.
	if _, isRSA := e.PubKey.Key.(*rsa.PublicKey); isRSA || e.PubKey.Key == nil {
		kv(side+"rsasigkey", fmtPubKey(e.PubKey))
	} else {
		kv(side+"pubkey", fmtPubKey(e.PubKey))
	}
	kv(side+"protoport", e.ProtoPort.String())
}
