package xfrm

// Ownership: how oe-agent recognises its own kernel objects. See the
// "Ownership" section of the package documentation for why.

// ReqidMin and ReqidMax bound the reqids oe-agent uses. Every SA it
// installs, and every template of every policy it installs, carries a reqid
// in this range. libreswan allocates reqids upwards from 16384 in steps of
// 4 and strongSwan from 1, so neither reaches this range in practice.
const (
	ReqidMin uint32 = 0x0e000000
	ReqidMax uint32 = 0x0effffff
)

// PriorityMin and PriorityMax bound the priorities of oe-agent's policies.
// Every policy it installs has a priority in this band, including bypass
// and block policies, which have no template and so no reqid. Within the
// band the lowest value wins, as everywhere in the SPD. The band lies far
// above the priorities other daemons use (libreswan documents staying below
// 65536 and gives OE the 65535 class; strongSwan's kernel-netlink derives its
// priorities from a base of 200000, 384 in older versions), so an
// administrator's static IPsec takes precedence over oe-agent's policies
// where they overlap.
const (
	PriorityMin uint32 = 0x0e000000
	PriorityMax uint32 = 0x0effffff
)

// OwnedReqid reports whether reqid is in oe-agent's range.
func OwnedReqid(reqid uint32) bool { return reqid >= ReqidMin && reqid <= ReqidMax }

// OwnedPriority reports whether prio is in oe-agent's policy band.
func OwnedPriority(prio uint32) bool { return prio >= PriorityMin && prio <= PriorityMax }

// OwnedSA reports whether sa belongs to oe-agent: its reqid is in the range.
func OwnedSA(sa SA) bool { return OwnedReqid(sa.Reqid) }

// OwnedPolicy reports whether p belongs to oe-agent: its priority is in the
// band and every template's reqid is in the range. A foreign policy that
// happens to use a priority in the band is still not ours if it carries a
// foreign reqid.
func OwnedPolicy(p Policy) bool {
	if !OwnedPriority(p.Priority) {
		return false
	}
	for _, t := range p.Templates {
		if !OwnedReqid(t.Reqid) {
			return false
		}
	}
	return true
}
