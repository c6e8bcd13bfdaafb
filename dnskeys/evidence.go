package dnskeys

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// Evidence is everything fetched to answer one question: the responses to
// the question itself (and to each CNAME target), and the DNSKEY, DS and SOA
// responses fetched while walking towards a trust anchor. Validate decides
// on Evidence alone; nothing in it is trusted until Validate has checked it.
type Evidence struct {
	// QName and QType are the question being answered.
	QName string
	QType uint16
	// Responses holds one response per question asked, in the order asked.
	// They may be shared with a Resolver's response cache: treat them as
	// read-only.
	Responses []*dns.Msg
	// Failures records questions that could not be answered, with why.
	Failures []Failure
}

// A Failure is a question the fetcher could not get an answer to.
type Failure struct {
	Name string
	Type uint16
	Err  string
}

type question struct {
	name  string
	qtype uint16
}

// Response returns the response to (name, qtype), or nil.
func (ev *Evidence) Response(name string, qtype uint16) *dns.Msg {
	name = canonical(name)
	for _, m := range ev.Responses {
		if len(m.Question) == 1 && m.Question[0].Qtype == qtype && canonical(m.Question[0].Name) == name {
			return m
		}
	}
	return nil
}

// failure returns the recorded failure for (name, qtype), if any.
func (ev *Evidence) failure(name string, qtype uint16) (string, bool) {
	for _, f := range ev.Failures {
		if f.Type == qtype && canonical(f.Name) == name {
			return f.Err, true
		}
	}
	return "", false
}

// Add records a response (or replaces an earlier one to the same question).
func (ev *Evidence) Add(m *dns.Msg) {
	if m == nil || len(m.Question) != 1 {
		return
	}
	q := m.Question[0]
	for i, old := range ev.Responses {
		if len(old.Question) == 1 && old.Question[0].Qtype == q.Qtype && canonical(old.Question[0].Name) == canonical(q.Name) {
			ev.Responses[i] = m
			return
		}
	}
	ev.Responses = append(ev.Responses, m)
}

// maxEvidenceMsgs bounds how many messages UnpackEvidence accepts.
const maxEvidenceMsgs = 256

// Pack encodes the evidence's responses as a sequence of 2-octet
// length-prefixed DNS messages (the DNS-over-TCP framing of RFC 1035
// §4.2.2), the first being the answer to the question. Failures are not
// encoded. It is the fixture and fuzzing format.
func (ev *Evidence) Pack() ([]byte, error) {
	var out []byte
	first := ev.Response(ev.QName, ev.QType)
	msgs := ev.Responses
	if first != nil {
		msgs = append([]*dns.Msg{first}, ev.Responses...)
	}
	seen := map[*dns.Msg]bool{}
	for _, m := range msgs {
		if seen[m] {
			continue
		}
		seen[m] = true
		b, err := m.Pack()
		if err != nil {
			return nil, fmt.Errorf("dnskeys: pack evidence: %w", err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// UnpackEvidence decodes what Pack produced. The question is the first
// message's.
func UnpackEvidence(b []byte) (*Evidence, error) {
	ev := &Evidence{}
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("dnskeys: evidence: truncated length")
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > len(b) {
			return nil, errors.New("dnskeys: evidence: truncated message")
		}
		m := new(dns.Msg)
		if err := m.Unpack(b[:n]); err != nil {
			return nil, fmt.Errorf("dnskeys: evidence: %w", err)
		}
		b = b[n:]
		if len(m.Question) != 1 {
			return nil, errors.New("dnskeys: evidence: message without exactly one question")
		}
		if len(ev.Responses) == 0 {
			ev.QName = canonical(m.Question[0].Name)
			ev.QType = m.Question[0].Qtype
		}
		ev.Add(m)
		if len(ev.Responses) > maxEvidenceMsgs {
			return nil, errors.New("dnskeys: evidence: too many messages")
		}
	}
	if len(ev.Responses) == 0 {
		return nil, errors.New("dnskeys: evidence: empty")
	}
	return ev, nil
}

// rrsetOf returns the records of (name, qtype) in rrs, and the RRSIGs
// covering them.
func rrsetOf(rrs []dns.RR, name string, qtype uint16) ([]dns.RR, []*dns.RRSIG) {
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range rrs {
		h := rr.Header()
		if h.Class != dns.ClassINET || canonical(h.Name) != name {
			continue
		}
		if h.Rrtype == qtype {
			set = append(set, rr)
		} else if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == qtype && qtype != dns.TypeRRSIG {
			sigs = append(sigs, s)
		}
	}
	return set, sigs
}

// signersIn lists the distinct canonical signer names of RRSIGs in rrs whose
// signer is at or above the RRSIG's owner.
func signersIn(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		s, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		signer := canonical(s.SignerName)
		if !isSubdomain(signer, canonical(s.Hdr.Name)) {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == signer
		}
		if !dup {
			out = append(out, signer)
		}
	}
	return out
}
