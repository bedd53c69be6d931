package colour

// Classify names one sRGB pixel and says whether it is dark. The boundaries are HSV ones set on the
// named colours of the CSS/X11 list and checked on the labelled crops of the tests: a colour with little
// chroma is black, grey or white by its value; otherwise the hue decides, with brown for dark oranges
// and yellows and pink for light, weakly saturated reds and magentas. Maroon stays red (witnesses call
// a maroon jacket red) and navy stays blue; both are also dark.
func Classify(r, g, b uint8) (n Name, dark bool) { return classify(r, g, b, levels{gain: 256}) }

// classify is Classify after the crop's contrast stretch lv: lightness (black, grey, white, dark, the
// brown of dark oranges) is judged stretched, saturation and hue as the camera gave them, since a
// stretch multiplies a colour cast as much as a colour.
func classify(r, g, b uint8, lv levels) (n Name, dark bool) {
	mx, mn := max(r, g, b), min(r, g, b)
	c := int(mx) - int(mn) // chroma, 0..255
	if mx == 0 {
		return Black, true
	}
	sat := c * 100 / int(mx) // saturation in percent
	v := int(lv.apply(mx))
	c = c * lv.gain / 256
	dark = int(lv.apply(uint8(luma(r, g, b)))) < darkLuma
	switch {
	case v < 28 || (v < 70 && (c < 15 || sat < 35)):
		// Dark: black unless clearly coloured (dark red, brown, bottle green keep their hue; sensor noise
		// in shadows does not).
		return Black, true
	case c < 22 || sat < 22: // a camera's colour cast on grey and white
		switch {
		case v < 70:
			return Black, dark
		case v > 185 && sat < 10:
			return White, dark
		default:
			return Grey, dark
		}
	}
	h := hue(int(r), int(g), int(b), int(mx), int(mx)-int(mn)) // degrees, 0..359
	s := sat
	switch {
	case h < 12 || h >= 345:
		if s < 45 && v > 170 {
			return Pink, dark
		}
		return Red, dark
	case h < 45:
		if v < 175 || (s < 45 && v < 200) {
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
	default: // 290..345: magenta to rose; dark magenta is purple
		if v < 150 {
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
