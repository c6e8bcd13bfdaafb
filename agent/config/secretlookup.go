package config

import "crypto"

// PSK returns the pre-shared key for the pair of identities, choosing the
// most specific entry as libreswan does: entries naming both identities
// beat those naming one (with %any or alone), which beat entries without
// indices. Ties go to the first entry in the file.
func (s *Secrets) PSK(local, remote ID) (Key, bool) {
	best, bestScore := (*Secret)(nil), -1
	for _, e := range s.Entries {
		if e.Kind != SecretPSK {
			continue
		}
		if sc := matchScore(e.IDs, local, remote); sc > bestScore {
			best, bestScore = e, sc
		}
	}
	if best == nil {
		return nil, false
	}
	return best.PSK, true
}

// PrivateKey returns the private key for local identity id, or for any
// identity (entries without indices).
func (s *Secrets) PrivateKey(id ID) (*Secret, bool) {
	best, bestScore := (*Secret)(nil), -1
	for _, e := range s.Entries {
		if e.Kind == SecretPSK {
			continue
		}
		if sc := matchScore(e.IDs, id); sc > bestScore {
			best, bestScore = e, sc
		}
	}
	return best, best != nil
}

// SignerFor returns the private key for local identity id that can sign
// with method m (an RSA key for rsasig, and so on), preferring entries that
// name id over those without indices.
func (s *Secrets) SignerFor(id ID, m AuthMethod) (crypto.Signer, bool) {
	best, bestScore := (*Secret)(nil), -1
	for _, e := range s.Entries {
		if e.Kind == SecretPSK || e.Signer == nil || !pubKeyMatches(e.Signer.Public(), m) {
			continue
		}
		if sc := matchScore(e.IDs, id); sc > bestScore {
			best, bestScore = e, sc
		}
	}
	if best == nil {
		return nil, false
	}
	return best.Signer, true
}

// matchScore rates how well indices match the wanted identities: -1 if
// they do not, else 2 per exact match plus 1 per %any.
func matchScore(indices []ID, want ...ID) int {
	if len(indices) == 0 {
		return 0
	}
	used := make([]bool, len(indices))
	score, matched := 0, 0
	for _, w := range want {
		for i, idx := range indices {
			if used[i] {
				continue
			}
			if idx == w {
				used[i], score, matched = true, score+2, matched+1
				break
			}
		}
	}
	// Unmatched wants may be covered by %any indices.
	for i, idx := range indices {
		if !used[i] && idx.Kind == IDAny && matched < len(want) {
			used[i], score, matched = true, score+1, matched+1
		}
	}
	if matched == 0 {
		return -1
	}
	for i := range indices {
		if !used[i] {
			return -1 // names an identity not in this exchange
		}
	}
	return score
}
