package wire

// CFGType is the CFG Type of a CP payload (RFC 7296 §3.15).
type CFGType uint8

// Configuration payload types.
const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

var cfgTypeNames = map[CFGType]string{
	CFGRequest: "CFG_REQUEST",
	CFGReply:   "CFG_REPLY",
	CFGSet:     "CFG_SET",
	CFGAck:     "CFG_ACK",
}

// String returns the IANA name, e.g. "CFG_REQUEST".
func (t CFGType) String() string { return name(cfgTypeNames, t, "CFGType") }

// ConfigAttributeType is the type of a configuration attribute, without the
// reserved bit (RFC 7296 §3.15.1).
type ConfigAttributeType uint16

// Some configuration attribute types (RFC 7296 §3.15.1).
const (
	CfgInternalIP4Address ConfigAttributeType = 1
	CfgInternalIP4Netmask ConfigAttributeType = 2
	CfgInternalIP4DNS     ConfigAttributeType = 3
	CfgInternalIP6Address ConfigAttributeType = 8
	CfgInternalIP6DNS     ConfigAttributeType = 10
	CfgInternalIP4Subnet  ConfigAttributeType = 13
	CfgSupportedAttrs     ConfigAttributeType = 14
	CfgInternalIP6Subnet  ConfigAttributeType = 15
)

// ConfigAttribute is one configuration attribute; Value may be empty (a
// request for the attribute).
type ConfigAttribute struct {
	Type  ConfigAttributeType
	Value []byte
}

// Config is a CP payload (RFC 7296 §3.15). oe-agent does not use it for
// opportunistic encryption; it is decoded so that peers that send it (remote
// access clients) get a reasoned answer rather than a syntax error.
type Config struct {
	CFGType    CFGType
	Attributes []ConfigAttribute
}

// Type returns PayloadCP.
func (*Config) Type() PayloadType { return PayloadCP }

func decodeConfig(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	t, err := r.u8("cfg type")
	if err != nil {
		return nil, err
	}
	if err := r.skip(3, "cp reserved"); err != nil {
		return nil, err
	}
	c := &Config{CFGType: CFGType(t)}
	for !r.empty() {
		at, err := r.u16("attribute type")
		if err != nil {
			return nil, err
		}
		n, err := r.u16("attribute length")
		if err != nil {
			return nil, err
		}
		v, err := r.bytes(int(n), "attribute value")
		if err != nil {
			return nil, err
		}
		// The high bit is reserved and ignored on receipt.
		c.Attributes = append(c.Attributes, ConfigAttribute{Type: ConfigAttributeType(at & 0x7fff), Value: v})
	}
	return c, nil
}

func (c *Config) appendBody(b []byte) ([]byte, error) {
	b = append(b, byte(c.CFGType), 0, 0, 0)
	for _, a := range c.Attributes {
		if a.Type&0x8000 != 0 {
			return nil, encodeErr(PayloadCP, "attribute type", "%d does not fit in 15 bits", a.Type)
		}
		if len(a.Value) > 0xffff {
			return nil, encodeErr(PayloadCP, "attribute length", "%d exceeds 65535", len(a.Value))
		}
		b = append16(b, uint16(a.Type))
		b = append16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}
