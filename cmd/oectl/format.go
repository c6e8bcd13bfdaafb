package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
)

// writeStatusTable prints the human view: one row per connection and per
// OE peer, newest Child SA's counters, then the daemon's counters.
func writeStatusTable(w io.Writer, st *api.Status) error {
	now := st.Now
	fmt.Fprintf(w, "oe-agentd %s, up %s, config %s\n\n", st.Version, age(st.Started, now), st.Config)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPOLICY\tLOCAL ID\tREMOTE ID\tPEER KEY\tSPI IN/OUT\tBYTES IN/OUT\tPKTS IN/OUT\tAGE\tREKEY IN\tLAST ERROR")
	for _, c := range st.Conns {
		row(tw, c.Name, c.State, c.Type+"/"+c.Auto, c.Local, c.Remote, c.Children, c.IKE, time.Time{}, now, c.LastError)
	}
	for _, p := range st.Peers {
		pol := p.Group
		if p.Anonymous {
			pol += " anonymous"
		}
		state := p.State
		if !p.ShuntExpires.IsZero() {
			state += " (" + short(p.ShuntExpires.Sub(now)) + " left)"
		}
		row(tw, p.Addr, state, pol, p.Local, p.Remote, p.Children, p.IKE, p.Since, now, p.LastError)
	}
	tw.Flush()
	if len(st.Conns)+len(st.Peers) == 0 {
		fmt.Fprintln(w, "(no connections and no OE peers)")
	}
	c := st.Counters
	fmt.Fprintf(w, "\nacquires %d, negotiations %d (%d failed), overflows %d, dns lookups %d\n",
		c.Acquires, c.Negotiations, c.NegotiationErrors, c.Overflows, c.DNSLookups)
	if st.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", st.LastError)
	}
	return nil
}

func row(w io.Writer, name, state, policy string, local, remote api.End, children []api.ChildSA, ike *api.IKESA, since, now time.Time, lastErr string) {
	spis, bytes, pkts, ageS, rekey := "-", "-", "-", "-", "-"
	if len(children) > 0 {
		ch := children[0]
		spis = fmt.Sprintf("%08x/%08x", ch.SPIIn, ch.SPIOut)
		bytes = fmt.Sprintf("%s/%s", size(ch.BytesIn), size(ch.BytesOut))
		pkts = fmt.Sprintf("%d/%d", ch.PacketsIn, ch.PacketsOut)
		ageS = age(ch.Established, now)
		if !ch.NextRekey.IsZero() {
			rekey = short(ch.NextRekey.Sub(now))
		}
	} else if !since.IsZero() {
		ageS = age(since, now)
	}
	if ike != nil && !ike.NextRekey.IsZero() && rekey == "-" {
		rekey = short(ike.NextRekey.Sub(now))
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		name, state, policy, dash(local.ID), dash(remote.ID), dash(remote.KeySource),
		spis, bytes, pkts, ageS, rekey, dash(lastErr))
}

// writeDump prints the script view: tab-separated, one line per connection
// or peer, fixed field order, "-" for empty fields, times as Unix seconds
// (0 when unset). New fields are only ever appended.
//
//	conn NAME STATE TYPE AUTO LOCAL_ADDR LOCAL_ID REMOTE_ADDR REMOTE_ID KEY_SOURCE SPI_IN SPI_OUT BYTES_IN BYTES_OUT PKTS_IN PKTS_OUT ESTABLISHED NEXT_REKEY LAST_ERROR
//	peer ADDR STATE GROUP ANONYMOUS LOCAL_ID REMOTE_ID KEY_SOURCE SPI_IN SPI_OUT BYTES_IN BYTES_OUT PKTS_IN PKTS_OUT ESTABLISHED NEXT_REKEY SHUNT_EXPIRES LAST_ERROR
func writeDump(w io.Writer, st *api.Status) error {
	for _, c := range st.Conns {
		f := []string{"conn", c.Name, c.State, c.Type, c.Auto, dash(c.Local.Addr), dash(c.Local.ID), dash(c.Remote.Addr), dash(c.Remote.ID), dash(c.Remote.KeySource)}
		f = append(f, childFields(c.Children)...)
		f = append(f, dash(c.LastError))
		fmt.Fprintln(w, strings.Join(f, "\t"))
	}
	for _, p := range st.Peers {
		f := []string{"peer", p.Addr, p.State, p.Group, strconv.FormatBool(p.Anonymous), dash(p.Local.ID), dash(p.Remote.ID), dash(p.Remote.KeySource)}
		f = append(f, childFields(p.Children)...)
		f = append(f, unix(p.ShuntExpires), dash(p.LastError))
		fmt.Fprintln(w, strings.Join(f, "\t"))
	}
	return nil
}

func childFields(children []api.ChildSA) []string {
	if len(children) == 0 {
		return []string{"-", "-", "0", "0", "0", "0", "0", "0"}
	}
	ch := children[0]
	return []string{
		fmt.Sprintf("%08x", ch.SPIIn), fmt.Sprintf("%08x", ch.SPIOut),
		strconv.FormatUint(ch.BytesIn, 10), strconv.FormatUint(ch.BytesOut, 10),
		strconv.FormatUint(ch.PacketsIn, 10), strconv.FormatUint(ch.PacketsOut, 10),
		unix(ch.Established), unix(ch.NextRekey),
	}
}

// writeLookup prints a key lookup with its chain, anchor first.
func writeLookup(w io.Writer, lk *api.Lookup) error {
	fmt.Fprintf(w, "%s: %s IPSECKEY: %s", lk.Target, lk.Name, lk.State)
	if lk.Denial {
		fmt.Fprint(w, " (no such record, proven)")
	}
	fmt.Fprintf(w, "\n  %s\n", lk.Reason)
	if len(lk.Chain) > 0 {
		fmt.Fprintln(w, "chain:")
		for _, l := range lk.Chain {
			fmt.Fprintf(w, "  %-30s %-13s %s\n", l.Zone, l.State, l.Detail)
		}
	}
	if len(lk.Keys) > 0 {
		fmt.Fprintln(w, "keys:")
		for _, k := range lk.Keys {
			mark := " "
			if k.Selected {
				mark = "*"
			}
			fmt.Fprintf(w, " %s %s", mark, k.Record)
			if !k.Usable {
				fmt.Fprintf(w, "  (not usable: %s)", k.Reason)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func unix(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return short(now.Sub(t))
}

// short renders a duration to the second, without zero parts: 1h2m, 45s.
func short(d time.Duration) string {
	if d < 0 {
		return "due"
	}
	d = d.Round(time.Second)
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}

func size(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ci", float64(n)/float64(div), "KMGTPE"[exp])
}
