package config

import "sort"

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment) between a and b: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost 1, so "rigth" is one edit
// from "right".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Keys are short; do not spend quadratic time on junk.
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	la, lb := len(a), len(b)
	d := make([][]int, la+1)
	for i := range d {
		d[i] = make([]int, lb+1)
		d[i][0] = i
	}
	for j := 0; j <= lb; j++ {
		d[0][j] = j
	}
	for i := 1; i <= la; i++ {
		for j := 1; j <= lb; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[la][lb]
}

// suggest returns the candidate nearest to word, or "" if none is close
// enough to be a plausible typo: at most 1 edit for words up to 4
// characters, 2 up to 8, else 3.
func suggest(word string, candidates []string) string {
	limit := 3
	switch {
	case len(word) <= 4:
		limit = 1
	case len(word) <= 8:
		limit = 2
	}
	best, bestD := "", limit+1
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted) // ties resolve the same way every run
	for _, c := range sorted {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean formats a suggestion suffix, or "" if there is none.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}
