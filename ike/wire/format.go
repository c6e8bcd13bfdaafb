package wire

import (
	"strconv"
	"strings"
)

// String summarises the message for logs in the style of strongSwan's
// "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) ... ]": exchange, direction,
// message ID and payload types, with notification types spelled out. It never
// prints payload contents, so it is safe to log (no nonces or key material).
func (m *Message) String() string {
	var sb strings.Builder
	sb.WriteString(m.Exchange.String())
	if m.IsResponse() {
		sb.WriteString(" response ")
	} else {
		sb.WriteString(" request ")
	}
	sb.WriteString(strconv.FormatUint(uint64(m.MessageID), 10))
	sb.WriteString(" [")
	writePayloadTypes(&sb, m.Payloads)
	sb.WriteString(" ]")
	return sb.String()
}

// PayloadSummary lists payload types like Message.String does, for logging
// the decrypted contents of an SK payload, e.g. "IDi N(INITIAL_CONTACT) AUTH".
func PayloadSummary(ps []Payload) string {
	var sb strings.Builder
	writePayloadTypes(&sb, ps)
	return strings.TrimPrefix(sb.String(), " ")
}

func writePayloadTypes(sb *strings.Builder, ps []Payload) {
	for _, p := range ps {
		sb.WriteByte(' ')
		switch p := p.(type) {
		case nil:
			sb.WriteString("nil")
		case *Notify:
			sb.WriteString("N(")
			sb.WriteString(p.NotifyType.String())
			sb.WriteByte(')')
		case *EncryptedFragment:
			sb.WriteString("SKF(")
			sb.WriteString(strconv.Itoa(int(p.Number)))
			sb.WriteByte('/')
			sb.WriteString(strconv.Itoa(int(p.Total)))
			sb.WriteByte(')')
		default:
			sb.WriteString(p.Type().String())
		}
	}
}
