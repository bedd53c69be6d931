package colour_test

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/colour"
)

// TestClassify: colours of the CSS list and the rendered scenarios' clothes (testvideos/scenarios) get
// the names people give them.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		hex  uint32
		want colour.Name
		dark bool
	}{
		{0x000000, colour.Black, true}, {0x2a2a30, colour.Black, true}, {0x3b3b3b, colour.Black, true},
		{0x808080, colour.Grey, false}, {0xa9a9a9, colour.Grey, false}, {0xffffff, colour.White, false},
		{0xf5f5f5, colour.White, false}, {0xff0000, colour.Red, false}, {0x7a2e2e, colour.Red, true},
		{0xb22222, colour.Red, false}, {0xffa500, colour.Orange, false}, {0xffff00, colour.Yellow, false},
		{0x008000, colour.Green, false}, {0x2f6b3a, colour.Green, false}, {0x0000ff, colour.Blue, true},
		{0x3c5f8a, colour.Blue, false}, {0x2b3a5a, colour.Blue, true}, {0x000080, colour.Blue, true},
		{0x800080, colour.Purple, true}, {0xffc0cb, colour.Pink, false}, {0xff69b4, colour.Pink, false},
		{0x8b4513, colour.Brown, false}, {0xa0522d, colour.Brown, false}, {0x87ceeb, colour.Blue, false},
	} {
		n, dark := colour.Classify(uint8(c.hex>>16), uint8(c.hex>>8), uint8(c.hex))
		assert.Equal(t, c.want, n, "#%06x", c.hex)
		assert.Equal(t, c.dark, dark, "#%06x dark", c.hex)
	}
}

// person draws a person-shaped crop: background at the sides, skin at the head, the top and the
// trousers in the middle.
func person(bg, top, bottom color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 60, 160))
	skin := color.RGBA{224, 172, 138, 255}
	for y := range 160 {
		for x := range 60 {
			c := bg
			switch {
			case x < 12 || x >= 48:
			case y < 26:
				c = skin
			case y < 84:
				c = top
			case y < 150:
				c = bottom
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestDescribe(t *testing.T) {
	red, navy, grey := color.RGBA{190, 30, 35, 255}, color.RGBA{30, 40, 80, 255}, color.RGBA{128, 128, 128, 255}
	d := colour.Describe(person(grey, red, navy))
	up, share := d.Upper.Main()
	assert.Equal(t, colour.Red, up, d.String())
	assert.GreaterOrEqual(t, share, uint8(80))
	low, _ := d.Lower.Main()
	assert.Equal(t, colour.Blue, low, d.String())
	assert.GreaterOrEqual(t, d.Lower.Dark, uint8(80))

	// A skin-coloured top is kept: when a region is mostly skin-like, the garment is.
	beige := color.RGBA{222, 170, 135, 255}
	d = colour.Describe(person(grey, beige, navy))
	assert.True(t, d.Upper.Known())
	up, _ = d.Upper.Main()
	assert.Contains(t, []colour.Name{colour.Brown, colour.Orange, colour.Pink}, up, d.String())

	tiny := colour.Describe(image.NewRGBA(image.Rect(0, 0, 3, 3)))
	assert.False(t, tiny.Upper.Known())
	assert.Equal(t, "unknown", tiny.Upper.String())

	_, err := colour.DescribeBGR(make([]byte, 10), 4, 4, 12)
	assert.Error(t, err)
	_, err = colour.DescribeBGR(nil, 0, 4, 0)
	assert.Error(t, err)
}

func TestParseQuery(t *testing.T) {
	bits := func(ns ...colour.Name) uint16 {
		var b uint16
		for _, n := range ns {
			b |= 1 << n
		}
		return b
	}
	for in, want := range map[string]colour.Query{
		"red top, dark trousers": {Upper: colour.Term{Names: bits(colour.Red)}, Lower: colour.Term{Dark: true}},
		"A man in a navy jacket and blue jeans": {Upper: colour.Term{Names: bits(colour.Blue), Dark: true},
			Lower: colour.Term{Names: bits(colour.Blue)}},
		"black/grey hoodie":          {Upper: colour.Term{Names: bits(colour.Black, colour.Grey)}},
		"white T-shirt with a bag":   {Upper: colour.Term{Names: bits(colour.White)}},
		"Gray pants":                 {Lower: colour.Term{Names: bits(colour.Grey)}},
		"a red dress":                {Upper: colour.Term{Names: bits(colour.Red)}, Lower: colour.Term{Names: bits(colour.Red)}},
		"maroon coat; beige chinos":  {Upper: colour.Term{Names: bits(colour.Red)}, Lower: colour.Term{Names: bits(colour.Brown)}},
		"dark blue jacket, backpack": {Upper: colour.Term{Names: bits(colour.Blue), Dark: true}},
	} {
		got, err := colour.ParseQuery(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "red", "a tall man", "green and a hat"} {
		_, err := colour.ParseQuery(bad)
		assert.Error(t, err, bad)
	}
}

func TestMatch(t *testing.T) {
	q, err := colour.ParseQuery("red top, dark trousers")
	require.NoError(t, err)
	var d colour.Description
	d.Upper.Shares[colour.Red], d.Upper.Shares[colour.Black] = 70, 30
	d.Lower.Shares[colour.Blue], d.Lower.Dark = 90, 80
	score, ok := q.Match(d)
	assert.True(t, ok)
	assert.InDelta(t, 0.7*0.8, score, 1e-6)

	d.Lower.Dark = 20 // light blue jeans are not dark trousers
	_, ok = q.Match(d)
	assert.False(t, ok)

	_, ok = q.Match(colour.Description{}) // unknown colours never match a description
	assert.False(t, ok)
	score, ok = colour.Query{}.Match(colour.Description{})
	assert.True(t, ok)
	assert.Equal(t, float32(1), score)
}

func FuzzParseQuery(f *testing.F) {
	f.Add("red top, dark trousers")
	f.Add("navy/black; with , and and")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := colour.ParseQuery(s)
		if err == nil {
			assert.False(t, q.Any())
			_ = q.String()
		}
	})
}

func FuzzDescribeBGR(f *testing.F) {
	f.Add([]byte{1, 2, 3}, 1, 1, 3)
	f.Fuzz(func(t *testing.T, pix []byte, w, h, stride int) {
		if w > 1<<12 || h > 1<<12 || stride > 1<<14 {
			return
		}
		d, err := colour.DescribeBGR(pix, w, h, stride)
		if err == nil {
			for _, r := range []colour.Region{d.Upper, d.Lower} {
				sum := 0
				for _, s := range r.Shares {
					sum += int(s)
				}
				assert.LessOrEqual(t, sum, 100)
			}
		}
	})
}

// TestDescriptionBinary: a description survives its binary form, and damaged forms are refused.
func TestDescriptionBinary(t *testing.T) {
	d := colour.Description{Upper: colour.Region{Dark: 70}, Lower: colour.Region{Dark: 5}}
	d.Upper.Shares[colour.Red], d.Upper.Shares[colour.Black] = 62, 30
	d.Lower.Shares[colour.Blue] = 100
	b, err := d.MarshalBinary()
	require.NoError(t, err)
	assert.Len(t, b, colour.DescriptionSize)
	var got colour.Description
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, d, got)
	assert.False(t, got.IsZero())
	assert.True(t, colour.Description{}.IsZero())

	assert.Error(t, got.UnmarshalBinary(b[:len(b)-1]), "short")
	b[3] = 101
	assert.Error(t, got.UnmarshalBinary(b), "a share over 100%")
	assert.Equal(t, d, got, "a refused form leaves the description as it was")
}

// TestMatcher: a prepared matcher answers as Query.Match on every kind of term, for random
// descriptions.
func TestMatcher(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	region := func() colour.Region {
		var g colour.Region
		left := 100
		for n := range colour.NumNames {
			if left == 0 {
				break
			}
			s := r.IntN(left + 1)
			if r.IntN(3) == 0 {
				s = 0
			}
			g.Shares[n] = uint8(s)
			left -= s
		}
		g.Dark = uint8(r.IntN(101))
		return g
	}
	for _, text := range []string{"red top", "dark trousers", "red top, dark trousers", "navy jacket and blue or black jeans",
		"black/grey hoodie", "a white shirt, green shorts", "dark blue coat"} {
		q, err := colour.ParseQuery(text)
		require.NoError(t, err)
		m := q.Matcher()
		for range 2000 {
			d := colour.Description{Upper: region(), Lower: region()}
			ws, wok := q.Match(d)
			gs, gok := m.Match(&d)
			require.Equal(t, wok, gok, "%s on %s", text, d)
			require.InDelta(t, ws, gs, 1e-6, "%s on %s", text, d)
		}
	}
	var none colour.Matcher
	s, ok := none.Match(&colour.Description{})
	assert.True(t, ok)
	assert.Equal(t, float32(1), s)
}
