package wire

import "encoding/binary"

// reader walks a payload body with bounds checks, reporting errors with
// absolute offsets and the payload type. It never panics on short input.
type reader struct {
	pt   PayloadType
	b    []byte
	off  int // read position in b
	base int // absolute offset of b[0]
}

func newReader(pt PayloadType, b []byte, base int) *reader {
	return &reader{pt: pt, b: b, base: base}
}

// pos is the absolute offset of the next unread octet.
func (r *reader) pos() int { return r.base + r.off }

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) empty() bool { return r.off == len(r.b) }

func (r *reader) need(n int, field string) error {
	if n < 0 || r.left() < n {
		return decodeErr(ErrTruncated, r.pt, r.pos(), field, "needs %d octets, %d left", n, r.left())
	}
	return nil
}

func (r *reader) u8(field string) (uint8, error) {
	if err := r.need(1, field); err != nil {
		return 0, err
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) u16(field string) (uint16, error) {
	if err := r.need(2, field); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

func (r *reader) skip(n int, field string) error {
	if err := r.need(n, field); err != nil {
		return err
	}
	r.off += n
	return nil
}

// bytes returns the next n octets. The slice aliases the input and has its
// capacity capped, so appending to it never overwrites neighbouring data.
func (r *reader) bytes(n int, field string) ([]byte, error) {
	if err := r.need(n, field); err != nil {
		return nil, err
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

// rest returns all unread octets (see bytes for aliasing).
func (r *reader) rest() []byte {
	v := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return v
}

// errf reports an ErrInvalid at absolute offset off.
func (r *reader) errf(off int, field, format string, args ...any) error {
	return decodeErr(ErrInvalid, r.pt, off, field, format, args...)
}

// done fails with ErrTrailingData unless the body is exhausted.
func (r *reader) done(what string) error {
	if !r.empty() {
		return decodeErr(ErrTrailingData, r.pt, r.pos(), what, "followed by %d unexpected octets", r.left())
	}
	return nil
}

// put16 back-patches a big-endian 16-bit length.
func put16(b []byte, v int) { binary.BigEndian.PutUint16(b, uint16(v)) }

func append16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
