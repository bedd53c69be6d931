package colour

// Classify names one sRGB pixel and says whether it is dark. The boundaries are HSV ones set on the
// named colours of the CSS/X11 list and checked on the labelled crops of the tests: a colour with little
// chroma is black, grey or white by its value; otherwise the hue decides, with brown for dark oranges
// and yellows and pink for light, weakly saturated reds and magentas. Maroon stays red (witnesses call
// a maroon jacket red) and navy stays blue; both are also dark.
func Classify(r, g, b uint8) (n Name, dark bool) {
	mx, mn := max(r, g, b), min(r, g, b)
	v := int(mx)
	c := int(mx) - int(mn) // chroma, 0..255
	dark = luma(r, g, b) < darkLuma
	switch {
	case v < 45 || (v < 70 && c < 25):
		return Black, true
	case c < 22 || c*100 < 14*v: // saturation under 0.14
		switch {
		case v < 70:
			return Black, dark
		case v > 185 && c*100 < 10*v:
			return White, dark
		default:
			return Grey, dark
		}
	}
	h := hue(int(r), int(g), int(b), v, c) // degrees, 0..359
	s := c * 100 / v                       // saturation in percent
	switch {
	case h < 12 || h >= 345:
		if s < 45 && v > 170 {
			return Pink, dark
		}
		return Red, dark
	case h < 45:
		if v < 150 || (s < 45 && v < 200) {
			return Brown, dark
		}
		if h < 20 && s < 55 {
			return Pink, dark // salmon
		}
		return Orange, dark
	case h < 68:
		if v < 120 {
			return Brown, dark // olive-brown, dark khaki
		}
		return Yellow, dark
	case h < 165:
		return Green, dark
	case h < 255:
		return Blue, dark
	case h < 290:
		return Purple, dark
	default: // 290..345: magenta to rose
		if s < 40 && v < 140 {
			return Purple, dark
		}
		return Pink, dark
	}
}

// darkLuma is the Rec. 601 luma under which a pixel is dark (L* about 30).
const darkLuma = 72

func luma(r, g, b uint8) int { return (299*int(r) + 587*int(g) + 114*int(b)) / 1000 }

// hue is the HSV hue in degrees of a pixel with value v and chroma c > 0.
func hue(r, g, b, v, c int) int {
	var h int
	switch v {
	case r:
		h = 60 * (g - b) / c
	case g:
		h = 120 + 60*(b-r)/c
	default:
		h = 240 + 60*(r-g)/c
	}
	if h < 0 {
		h += 360
	}
	return h
}

// skin is the YCbCr skin rule of Chai and Ngan (Cr 133-173, Cb 77-127), with a floor on luma so that
// shadows are not skin.
func skin(r, g, b uint8) bool {
	ri, gi, bi := int(r), int(g), int(b)
	y := (299*ri + 587*gi + 114*bi) / 1000
	cr := 128 + (500*ri-419*gi-81*bi)/1000
	cb := 128 + (-169*ri-331*gi+500*bi)/1000
	return y > 60 && cr >= 138 && cr <= 173 && cb >= 77 && cb <= 127
}
