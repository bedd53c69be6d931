// Package colour names the colours a person wears: the upper and lower body's shares of eleven basic
// colour names (Berlin and Kay's: black, white, grey, red, orange, yellow, green, blue, purple, pink,
// brown) and of dark pixels, computed from a body crop, and the witness's description ("red top, dark
// trousers") matched against them. Pure Go: the center matches descriptions without OpenCV, and the
// crop's pixels come from a gocv.Mat (DescribeBGR) or a decoded JPEG (Describe) alike.
package colour

import (
	"fmt"
	"strings"
)

// Name is one of the basic colour names.
type Name uint8

// The names, in the order of a Region's Shares.
const (
	Black Name = iota
	White
	Grey
	Red
	Orange
	Yellow
	Green
	Blue
	Purple
	Pink
	Brown
	// NumNames is how many names there are.
	NumNames
)

var names = [NumNames]string{"black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"}

func (n Name) String() string {
	if n < NumNames {
		return names[n]
	}
	return fmt.Sprintf("colour(%d)", uint8(n))
}

// Names lists every name in order.
func Names() []Name {
	out := make([]Name, NumNames)
	for i := range out {
		out[i] = Name(i)
	}
	return out
}

// ParseName reads a name as String writes it (and "gray").
func ParseName(s string) (Name, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "gray" {
		return Grey, nil
	}
	for i, n := range names {
		if n == s {
			return Name(i), nil
		}
	}
	return 0, fmt.Errorf("unknown colour name %q", s)
}

// Region is what one part of the body wears: the percentage of its clothing pixels given each name, and
// the percentage that is dark whatever its hue (black, charcoal, navy, dark brown: what a witness calls
// "dark"). The zero Region means unknown (no usable pixels). 12 bytes, no padding: an index stores it as
// it is.
type Region struct {
	Shares [NumNames]uint8 `json:"shares"`
	Dark   uint8           `json:"dark"`
}

// Known reports whether the region had usable pixels.
func (r Region) Known() bool {
	for _, s := range r.Shares {
		if s > 0 {
			return true
		}
	}
	return false
}

// Main is the name a witness would give and its share in percent: the largest chromatic share when it
// holds at least ChromaticShare of the region and half the largest share (shade and folds turn part of
// a coloured garment black or grey, never the reverse; warm light tints a black one, but only a little
// of it), else the largest share. Black, 0 when unknown.
func (r Region) Main() (Name, uint8) {
	var best, chromatic Name = Black, Red
	for i, s := range r.Shares {
		n := Name(i)
		if s > r.Shares[best] {
			best = n
		}
		if n >= Red && s > r.Shares[chromatic] {
			chromatic = n
		}
	}
	if c := r.Shares[chromatic]; c >= ChromaticShare && 2*int(c) >= int(r.Shares[best]) {
		return chromatic, r.Shares[chromatic]
	}
	return best, r.Shares[best]
}

// ChromaticShare is the share from which a colour outranks black, grey and white in Main.
const ChromaticShare = 25

// Top lists the names holding at least minShare percent, largest first.
func (r Region) Top(minShare uint8) []Name {
	var out []Name
	for i, s := range r.Shares {
		if s >= minShare && s > 0 {
			out = append(out, Name(i))
		}
	}
	for i := 1; i < len(out); i++ { // insertion sort: at most eleven
		for j := i; j > 0 && r.Shares[out[j]] > r.Shares[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// String writes the region as "blue 62% black 20% (dark 70%)", names under 10% left out.
func (r Region) String() string {
	if !r.Known() {
		return "unknown"
	}
	var b strings.Builder
	for _, n := range r.Top(10) {
		fmt.Fprintf(&b, "%s %d%% ", n, r.Shares[n])
	}
	fmt.Fprintf(&b, "(dark %d%%)", r.Dark)
	return b.String()
}

// Description is the clothing colours of one view of a person. 24 bytes.
type Description struct {
	Upper Region `json:"upper"`
	Lower Region `json:"lower"`
}

func (d Description) String() string {
	return "upper: " + d.Upper.String() + "; lower: " + d.Lower.String()
}

// DescriptionSize is the length of a Description's binary form.
const DescriptionSize = 2 * (int(NumNames) + 1)

// IsZero reports whether nothing is known (no usable pixels in either region).
func (d Description) IsZero() bool { return d == Description{} }

// MarshalBinary writes the upper then the lower region, each as its shares in name order and its dark
// share: DescriptionSize bytes, what a database column keeps.
func (d Description) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, DescriptionSize)
	for _, r := range []Region{d.Upper, d.Lower} {
		b = append(b, r.Shares[:]...)
		b = append(b, r.Dark)
	}
	return b, nil
}

// UnmarshalBinary reads MarshalBinary's form; shares over 100 percent are refused.
func (d *Description) UnmarshalBinary(b []byte) error {
	if len(b) != DescriptionSize {
		return fmt.Errorf("colour description of %d bytes, want %d", len(b), DescriptionSize)
	}
	var out Description
	for i, r := range []*Region{&out.Upper, &out.Lower} {
		p := b[i*(int(NumNames)+1):]
		copy(r.Shares[:], p[:NumNames])
		r.Dark = p[NumNames]
		for _, s := range p[:NumNames+1] {
			if s > 100 {
				return fmt.Errorf("colour description: a share of %d%%", s)
			}
		}
	}
	*d = out
	return nil
}
