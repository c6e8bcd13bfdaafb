package config

// checkManual checks a keying=manual conn and assembles its SAs. Manual
// keying follows the FreeS/WAN documentation: spi= gives the SPI of both
// directions, leftespspi=/rightespspi= override it for the SA carrying
// traffic from left and from right; espenckey=/espauthkey= give the keys of
// both directions, left*/right* override them likewise; esp= names exactly
// one cipher (and one integrity algorithm unless AEAD). Manual keying has
// no replay protection across restarts and no rekeying: it is for
// debugging only.
func (x *connCtx) checkManual() {
	c := x.c
	if c.Type != TypeTunnel && c.Type != TypeTransport {
		x.errAt("keying", "keying=manual needs type=tunnel or type=transport")
		return
	}
	if c.Auto == AutoRoute {
		x.errAt("auto", "auto=route makes no sense with keying=manual: the SAs are installed at once (use auto=start or auto=add)")
	}
	for _, side := range []struct {
		key string
		h   Host
	}{{"left", c.Left.Host}, {"right", c.Right.Host}} {
		if side.h.Kind != HostAddr {
			x.errAt(side.key, "keying=manual needs a literal IP address in %s=", side.key)
		}
	}
	if c.Left.Host.Kind == HostAddr && c.Right.Host.Kind == HostAddr && c.Left.Host.Addr.Is4() != c.Right.Host.Addr.Is4() {
		x.errAt("right", "left and right are of different address families")
	}
	if c.Type == TypeTransport && (len(c.Left.Subnets) > 0 || len(c.Right.Subnets) > 0) {
		x.errAt("leftsubnet", "leftsubnet=/rightsubnet= are not allowed with type=transport")
	}
	if _, ok := x.set["esp"]; !ok {
		x.errAt("keying", "keying=manual needs esp= with exactly one algorithm, e.g. esp=aes128gcm16 or esp=aes128-sha256")
		return
	}
	if len(c.ESP.List) != 1 {
		x.errAt("esp", "keying=manual needs exactly one esp= proposal, not %d", len(c.ESP.List))
		return
	}
	p := c.ESP.List[0]
	switch {
	case len(p.Encr) != 1:
		x.errAt("esp", "keying=manual needs exactly one cipher in esp=, not %d (give the key length, e.g. aes128)", len(p.Encr))
		return
	case !p.AEAD() && len(p.Integ) != 1:
		x.errAt("esp", "keying=manual needs exactly one integrity algorithm in esp= (e.g. esp=aes128-sha256)")
		return
	case len(p.DH) > 0:
		x.errAt("esp", "keying=manual has no key exchange: remove the DH groups from esp=")
		return
	}
	m := &ManualKeying{ESP: p}
	pick := func(specific *uint32, both *uint32, key string) uint32 {
		if specific != nil {
			return *specific
		}
		if both != nil {
			return *both
		}
		x.errAt(key, "keying=manual needs spi= (or %s=)", key)
		return 0
	}
	m.LeftToRight.SPI = pick(x.leftSPI, x.spi, "leftespspi")
	m.RightToLeft.SPI = pick(x.rightSPI, x.spi, "rightespspi")

	encLen := EncrKeyBytes(p.Encr[0])
	authLen := 0
	if !p.AEAD() {
		h, _ := hashByInteg(p.Integ[0])
		authLen = h.keyLen
	}
	keyFor := func(specific, both Key, specificKey, bothKey string, want int, what string) Key {
		k, key := specific, specificKey
		if k == nil {
			k, key = both, bothKey
		}
		if want == 0 {
			if k != nil {
				x.errAt(key, "%s is set but %s needs no %s key", key, p.String(), what)
			}
			return nil
		}
		if k == nil {
			x.errAt(bothKey, "keying=manual with esp=%s needs %s= (or left%s= and right%s=): %d bytes", p.String(), bothKey, bothKey, bothKey, want)
			return nil
		}
		if len(k) != want {
			x.errAt(key, "%s is %d bytes, but %s needs %d", key, len(k), p.String(), want)
		}
		return k
	}
	m.LeftToRight.EncKey = keyFor(x.leftEnc, x.encKey, "leftespenckey", "espenckey", encLen, "encryption")
	m.RightToLeft.EncKey = keyFor(x.rightEnc, x.encKey, "rightespenckey", "espenckey", encLen, "encryption")
	m.LeftToRight.AuthKey = keyFor(x.leftAuthK, x.authKey, "leftespauthkey", "espauthkey", authLen, "authentication")
	m.RightToLeft.AuthKey = keyFor(x.rightAuthK, x.authKey, "rightespauthkey", "espauthkey", authLen, "authentication")
	c.Manual = m
}
